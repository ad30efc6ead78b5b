import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

describe('configuration', () => {
  it('runs embedded with no variables at all', () => {
    expect(loadConfig({})).toMatchObject({ PORT: 3000, ROLE: 'all', DATA_DIR: './data', embedded: true, migrateOnStart: true, createDemoProject: true });
  });

  it('runs against PostgreSQL and Redis without migrating or a demo unless asked', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@db/x', REDIS_URL: 'redis://cache:6379', ROLE: 'api', PORT: '8080' });
    expect(config).toMatchObject({ embedded: false, migrateOnStart: false, createDemoProject: false, ROLE: 'api', PORT: 8080 });
  });

  it('runs on a Redis Cluster named by REDIS_CLUSTER_NODES, in any role', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@db/x', REDIS_CLUSTER_NODES: 'redis-0:6379, redis-1:6379,10.0.0.7:7000', ROLE: 'projector' });
    expect(config.redis).toEqual({ clusterNodes: ['redis-0:6379', 'redis-1:6379', '10.0.0.7:7000'] });
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379' }).redis).toEqual({ url: 'redis://cache:6379' });
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({}).REDIS_REPLICAS_TO_ACKNOWLEDGE).toBe(0);
    expect(loadConfig({ REDIS_REPLICAS_TO_ACKNOWLEDGE: '1' }).REDIS_REPLICAS_TO_ACKNOWLEDGE).toBe(1);
  });

  it('bounds slow clients, realtime streams and waiting readers by default', () => {
    expect(loadConfig({})).toMatchObject({
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 5_000,
      REALTIME_MAX_STREAMS: 2000,
      REALTIME_MAX_STREAMS_PER_CLIENT: 20,
      REALTIME_MAX_STREAMS_PER_KEY: 1000,
      REALTIME_MAX_TARGETS: 50_000,
      MIN_POSITION_MAX_WAITERS: 1000,
    });
    expect(loadConfig({}).INTERNAL_PORT).toBeUndefined();
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['loopback, 10.0.0.0/8,fd00::/8', 'loopback, 10.0.0.0/8,fd00::/8'],
  ])('takes TRUST_PROXY=%s as Express does', (text, setting) => {
    expect(loadConfig({ TRUST_PROXY: text }).TRUST_PROXY).toEqual(setting);
  });

  it('limits public-key votes by default, and turns limits off with RATE_LIMITS=off', () => {
    expect(loadConfig({})).toMatchObject({ RATE_LIMITS: 'on', RATE_LIMIT_VOTES_PER_ADDRESS: 60, RATE_LIMIT_VOTES_PER_VOTER: 30, RATE_LIMIT_VOTERS_PER_ADDRESS: 10 });
    expect(loadConfig({ RATE_LIMITS: 'off', RATE_LIMIT_VOTES_PER_ADDRESS: '600' })).toMatchObject({ RATE_LIMITS: 'off', RATE_LIMIT_VOTES_PER_ADDRESS: 600 });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ PORT: 3000, embedded: true });
  });

  it.each([
    [{ PORT: 'eighty' }, /^Invalid environment variable PORT \(got "eighty"\): /],
    [{ PORT: '70000' }, /^Invalid environment variable PORT .*65535/],
    [{ ROLE: 'worker' }, /^Invalid environment variable ROLE \(got "worker"\): must be one of all, api, projector$/],
    [{ MIGRATE_ON_START: 'yes' }, /^Invalid environment variable MIGRATE_ON_START/],
    [{ APPEND_MAX_BATCH: '0' }, /^Invalid environment variable APPEND_MAX_BATCH/],
    [{ REDIS_KEY_PREFIX: 'a:b' }, /^Invalid environment variable REDIS_KEY_PREFIX/],
    [{ TRUST_PROXY: 'the-load-balancer' }, /^Invalid environment variable TRUST_PROXY \(got "the-load-balancer"\): must be true, false, a hop count, or comma-separated addresses and subnets$/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^Invalid environment variable TRUST_PROXY/],
    [{ RATE_LIMITS: 'false' }, /^Invalid environment variable RATE_LIMITS \(got "false"\): must be one of on, off$/],
    [{ RATE_LIMIT_VOTES_PER_ADDRESS: '0' }, /^Invalid environment variable RATE_LIMIT_VOTES_PER_ADDRESS/],
    [{ DATABASE_URL: 'postgres://x', ROLE: 'projector' }, /^Invalid environment variable REDIS_URL: required when ROLE=projector/],
    [{ HTTP_HEADERS_TIMEOUT_MS: '60000', HTTP_REQUEST_TIMEOUT_MS: '30000' }, /^Invalid environment variable HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS$/],
    [{ REALTIME_MAX_STREAMS: '0' }, /^Invalid environment variable REALTIME_MAX_STREAMS/],
    [{ INTERNAL_PORT: 'metrics' }, /^Invalid environment variable INTERNAL_PORT/],
    [{ REDIS_CLUSTER_NODES: 'redis://a:6379' }, /^Invalid environment variable REDIS_CLUSTER_NODES \(got "redis:\/\/a:6379"\): must be host:port, host:port, …$/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://a:6379' }, /^Invalid environment variable REDIS_CLUSTER_NODES: set it or REDIS_URL, not both$/],
  ])('stops on %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never repeats a secret in its message', () => {
    for (const [name, value] of [['ADMIN_TOKEN', 'short'], ['DATABASE_URL', 'mysql://root:hunter2@db'], ['CLIENT_ADDRESS_HASH_KEY', 'tiny']]) {
      const error = (() => {
        try {
          loadConfig({ [name!]: value! });
        } catch (caught) {
          return caught as Error;
        }
      })();
      expect(error?.message).toMatch(new RegExp(`^Invalid environment variable ${name}: `));
      expect(error?.message).not.toContain(value);
    }
  });
});

describe('placeholder secrets', () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
  const envExample = Object.fromEntries(read('.env.example').split('\n').filter((line) => /^\w+=/.test(line)).map((line) => line.split(/=(.*)/s).slice(0, 2)));
  const composeDatabaseUrl = (parse(read('compose.yaml'), { merge: true }) as any).services['api-1'].environment.DATABASE_URL as string;
  const exampleSecret = (parse(read('deploy/k8s/secret.example.yaml')) as any).stringData as Record<string, string>;
  const shipped: [string, string, string][] = [
    ['.env.example', 'ADMIN_TOKEN', envExample.ADMIN_TOKEN],
    ['.env.example', 'CLIENT_ADDRESS_HASH_KEY', envExample.CLIENT_ADDRESS_HASH_KEY],
    ['.env.example through compose.yaml', 'DATABASE_URL', composeDatabaseUrl.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, envExample.POSTGRES_PASSWORD)],
    ['deploy/k8s/secret.example.yaml', 'ADMIN_TOKEN', exampleSecret.ADMIN_TOKEN!],
    ['deploy/k8s/secret.example.yaml', 'CLIENT_ADDRESS_HASH_KEY', exampleSecret.CLIENT_ADDRESS_HASH_KEY!],
    ['deploy/k8s/secret.example.yaml', 'DATABASE_URL', exampleSecret.DATABASE_URL!],
  ];

  it.each(shipped)('refuses the placeholder from %s in %s with one line naming it', (_file, variable, value) => {
    expect(value).toMatch(/change-me/);
    const attempt = () => loadConfig({ [variable]: value, ...(variable === 'DATABASE_URL' ? { REDIS_URL: 'redis://cache:6379' } : {}) });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^Invalid environment variable ${variable}: .*placeholder[^\n]*$`));
    expect(attempt).not.toThrow(value);
  });

  it('refuses a placeholder password however the URL spells it', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://clickvote:change%2Dme@db:5432/clickvote' })).toThrow(/^Invalid environment variable DATABASE_URL: the password/);
  });

  it('takes secrets of your own', () => {
    const config = loadConfig({ ADMIN_TOKEN: 'a-token-nobody-else-has-0123', CLIENT_ADDRESS_HASH_KEY: 'a-key-nobody-else-has-0123', DATABASE_URL: 'postgres://clickvote:s3cret@db:5432/clickvote' });
    expect(config).toMatchObject({ ADMIN_TOKEN: 'a-token-nobody-else-has-0123', embedded: false });
  });
});
