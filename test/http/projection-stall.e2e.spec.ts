import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exportLog } from '../../src/projections/log-queries/log-export.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { createPostgresTestDatabase } from '../support/database.js';
import { type ScratchPostgres, startScratchPostgres } from '../support/scratch-postgres.js';

// A transaction holding an id stalls projection in every database of its cluster: this file
// stalls a cluster of its own, never the shared one other test files use.
let cluster: ScratchPostgres | undefined;
let app: TestApp;
let project: { publicKey: string; secretKey: string };
let otherDatabase: string;

beforeAll(async () => {
  cluster = await startScratchPostgres({ max_prepared_transactions: '4' });
  if (cluster === undefined) return;
  app = await startTestApp({ database: await createPostgresTestDatabase(cluster.url) });
  project = await createProjectOverHttp(app, 'stall', { likes: { kind: 'like' } });
  otherDatabase = 'unrelated_app';
  await withClient(cluster.url, (client) => client.query(`create database ${otherDatabase}`));
});

afterAll(async () => {
  await app?.close();
  await cluster?.dispose();
});

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const otherUrl = () => cluster!.url.replace(/\/postgres$/, `/${otherDatabase}`);
const like = (voter: string) => call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'post', voter, value: 1 } });
const projectionStatus = async () => (await call(app, 'GET', '/v1/admin/projections', { key: app.adminToken })).body.projections[0];
const tallyCount = async () => (await call(app, 'GET', '/v1/polls/likes/tallies/post', { key: project.publicKey })).body.count;
/** The metric's value; of a metric by partition, the highest, as the alerts take it. */
const metric = async (name: string) => {
  const text = (await call(app, 'GET', '/metrics')).body as string;
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((match) => Number(match[1]));
  return values.length === 0 ? Number.NaN : Math.max(...values);
};

/** Casts a like every 100 ms until stopped, so the newest event is always young. */
function keepVoting(prefix: string) {
  let voting = true;
  let cast = 0;
  const done = (async () => {
    while (voting) {
      await like(`${prefix}-${cast}`);
      cast += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return { stop: async () => ((voting = false), await done, cast) };
}

describe('a transaction in another database of the cluster', () => {
  it('stalls projection, and lag, its metric and the admin status say so and name it', { timeout: 120_000 }, async (context) => {
    if (cluster === undefined) return context.skip();
    await like('before');
    await vi.waitFor(async () => expect(await tallyCount()).toBe(1), { timeout: 30_000, interval: 100 });

    const blocker = new pg.Client({ connectionString: otherUrl() });
    await blocker.connect();
    await blocker.query('begin');
    const { pid } = (await blocker.query<{ pid: number }>('select pg_current_xact_id(), pg_backend_pid() as pid')).rows[0]!;
    const voting = keepVoting('during');
    try {
      const stalled = await vi.waitFor(
        async () => {
          const status = await projectionStatus();
          expect(status.lag.seconds).toBeGreaterThan(3);
          return status;
        },
        { timeout: 45_000, interval: 250 },
      );
      expect(stalled.heldBackBy).toMatchObject({ kind: 'session', pid, database: otherDatabase, state: 'idle in transaction', preparedAs: null });
      expect(stalled.heldBackBy.ageSeconds).toBeGreaterThan(3);
      expect(stalled.lag.events).toBeGreaterThan(0);
      await vi.waitFor(async () => expect(await metric('clickvote_projector_lag_seconds')).toBeGreaterThan(3), { timeout: 30_000, interval: 250 });
      expect(await metric('clickvote_projector_oldest_xact_age_seconds')).toBeGreaterThan(3);
      expect(await tallyCount()).toBe(1);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    const cast = await voting.stop();
    await vi.waitFor(async () => expect(await tallyCount()).toBe(1 + cast), { timeout: 30_000, interval: 100 });
    const caughtUp = await projectionStatus();
    expect(caughtUp).toMatchObject({ lag: { events: 0, seconds: 0 }, heldBackBy: null });
  });

  it('leaves out nothing committed from a backup export, while audit pages stop at the horizon', async (context) => {
    if (cluster === undefined) return context.skip();
    const blocker = new pg.Client({ connectionString: otherUrl() });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select pg_current_xact_id()');
      const { position } = (await like('held-back')).body;
      const lines: string[] = [];
      await exportLog(app.database.db, async (page) => (lines.push(...page), true));
      expect(lines.map((line) => JSON.parse(line).position)).toContain(position);
      const audit = await call(app, 'GET', '/v1/audit/events?limit=1000', { key: project.secretKey });
      expect(audit.body.events.map((event: { position: string }) => event.position)).not.toContain(position);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    await vi.waitFor(async () => expect(await projectionStatus()).toMatchObject({ lag: { events: 0 }, heldBackBy: null }), { timeout: 30_000, interval: 100 });
  });

  it('names a prepared transaction, which outlives its session, until it is committed', async (context) => {
    if (cluster === undefined) return context.skip();
    const before = await tallyCount();
    await withClient(otherUrl(), (client) => client.query("begin; select pg_current_xact_id(); prepare transaction 'forgotten-2pc'"));
    try {
      await like('behind-prepared');
      const stalled = await vi.waitFor(
        async () => {
          const status = await projectionStatus();
          expect(status.heldBackBy).not.toBeNull();
          return status;
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(stalled.heldBackBy).toMatchObject({ kind: 'prepared', preparedAs: 'forgotten-2pc', database: otherDatabase, pid: null, state: 'prepared' });
      expect(await tallyCount()).toBe(before);
    } finally {
      await withClient(otherUrl(), (client) => client.query("commit prepared 'forgotten-2pc'"));
    }
    await vi.waitFor(async () => expect(await tallyCount()).toBe(before + 1), { timeout: 30_000, interval: 100 });
    expect(await projectionStatus()).toMatchObject({ heldBackBy: null });
  });
});
