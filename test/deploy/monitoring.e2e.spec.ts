import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type BuiltService, startBuiltService } from '../support/built-service.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';

/** deploy/prometheus-alerts.yml and the Grafana dashboard, held against what the service exports. */
const root = path.resolve(import.meta.dirname, '../..');
/** Series Prometheus makes itself for every scrape target. */
const prometheusOwn = new Set(['up']);

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
}
const alertRules = async (): Promise<Rule[]> =>
  (parse(await readFile(path.join(root, 'deploy/prometheus-alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules);
const dashboardQueries = async (): Promise<string[]> => {
  const dashboard = JSON.parse(await readFile(path.join(root, 'deploy/grafana/clickvote-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  // Grafana fills in its range variable before the query reaches Prometheus.
  return dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr.replaceAll('$__rate_interval', '5m'));
};

/** The metric names a PromQL expression selects; throws where it does not parse. */
function metricsNamedIn(expression: string): string[] {
  const tree = parser.parse(expression);
  const names: string[] = [];
  let invalid = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) invalid = true;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expression.slice(node.from, node.to));
    },
  });
  if (invalid) throw new Error(`not valid PromQL: ${expression}`);
  return names;
}

describe('the alert rules and the Grafana dashboard', () => {
  let database: TestDatabase;
  let redis: TestRedis | undefined;
  let service: BuiltService | undefined;
  let exported: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    redis = await createTestRedis();
    if (database.url === undefined || redis === undefined) return;
    // ROLE=all on PostgreSQL and Redis registers every metric: API, projector and rebuild.
    service = await startBuiltService({ ROLE: 'all', DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix });
    exported = await (await fetch(`${service.url}/metrics`)).text();
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await redis?.dispose();
    await database?.dispose();
  });

  it('are valid PromQL that names only metrics the service exports', async (context) => {
    if (service === undefined) {
      console.warn('\n*** No PostgreSQL and Redis: the metric names of the alert rules and dashboard are NOT checked ***\n');
      context.skip();
    }
    const types = new Map([...exported.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1]!, match[2]!]));
    const exists = (name: string) => {
      if (types.has(name) || prometheusOwn.has(name)) return true;
      const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      return base !== undefined && ['histogram', 'summary'].includes(types.get(base) ?? '');
    };
    const queries = [...(await alertRules()).map((rule) => rule.expr), ...(await dashboardQueries())];
    const named = new Set(queries.flatMap(metricsNamedIn));
    expect(named.size).toBeGreaterThan(15);
    expect([...named].filter((name) => !exists(name))).toEqual([]);
  });

  it('alert on projector lag, the 5xx rate, p99 latency and readiness', async () => {
    const rules = await alertRules();
    const alertOn = (pattern: RegExp) => rules.filter((rule) => pattern.test(rule.expr)).map((rule) => rule.alert);
    expect(alertOn(/clickvote_projector_lag_seconds/)).not.toEqual([]);
    expect(alertOn(/status=~"5\.\."/)).not.toEqual([]);
    expect(alertOn(/histogram_quantile\(0\.99,/)).not.toEqual([]);
    expect(alertOn(/clickvote_ready/)).not.toEqual([]);
    for (const rule of rules) expect(['warning', 'critical']).toContain(rule.labels?.severity);
  });

  it('can see readiness: clickvote_ready is 1 while /readyz answers 200', async (context) => {
    if (service === undefined) context.skip();
    expect((await fetch(`${service!.url}/readyz`)).status).toBe(200);
    expect(exported).toMatch(/^clickvote_ready 1$/m);
  });
});
