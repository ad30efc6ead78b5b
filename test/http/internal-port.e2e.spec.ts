import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltService, startBuiltService } from '../support/built-service.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTestRedis, freePort, type TestRedis } from '../support/redis.js';

const adminToken = 'internal-admin-token-0123456789';
let database: TestDatabase;
let redis: TestRedis | undefined;
let service: BuiltService | undefined;
let internalUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
  if (database.url === undefined || redis === undefined) return;
  const internalPort = await freePort();
  internalUrl = `http://127.0.0.1:${internalPort}`;
  service = await startBuiltService({ DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, ADMIN_TOKEN: adminToken, INTERNAL_PORT: String(internalPort) });
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await redis?.dispose();
  await database?.dispose();
});

const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
const statusOf = async (url: string, init?: RequestInit) => (await fetch(url, init)).status;

describe('with INTERNAL_PORT set', () => {
  it('serves /metrics and the admin API only on the internal port, and the public API only on the public one', async (context) => {
    if (service === undefined) {
      console.warn('\n*** internal-port: no PostgreSQL server or no Redis: SKIPPED ***\n');
      return context.skip();
    }
    const createProject = { method: 'POST', headers: admin, body: '{"name":"internal"}' };
    expect(await statusOf(`${service.url}/metrics`)).toBe(404);
    expect(await statusOf(`${service.url}/v1/admin/projections`, { headers: admin })).toBe(404);
    expect(await statusOf(`${service.url}/v1/projects`, createProject)).toBe(404);

    const metrics = await fetch(`${internalUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('clickvote_http_request_duration_seconds');
    expect(await statusOf(`${internalUrl}/v1/admin/projections`, { headers: admin })).toBe(200);
    const project = await fetch(`${internalUrl}/v1/projects`, createProject);
    expect(project.status).toBe(201);
    const { publicKey } = (await project.json()) as { publicKey: string };

    expect(await statusOf(`${service.url}/v1/polls`, { headers: { authorization: `Bearer ${publicKey}` } })).toBe(200);
    expect(await statusOf(`${internalUrl}/v1/polls`, { headers: { authorization: `Bearer ${publicKey}` } })).toBe(404);
    for (const url of [service.url, internalUrl]) expect(await statusOf(`${url}/readyz`)).toBe(200);
  });
});
