import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltService, startBuiltService } from '../support/built-service.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';

const adminToken = 'rate-limits-admin-token-0123';
let database: TestDatabase;
let redis: TestRedis | undefined;
let replicas: BuiltService[] = [];
let project: { id: string; publicKey: string; secretKey: string };
const shared = () => database.url !== undefined && redis !== undefined;

/** Two API processes over one PostgreSQL and one Redis, as deployed behind a load balancer (one address-hash key). */
beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
  if (!shared()) {
    console.warn('\n*** No PostgreSQL server or no Redis: the two-replica rate limit tests are SKIPPED ***\n');
    return;
  }
  const env = { ROLE: 'api', DATABASE_URL: database.url!, REDIS_URL: redis!.url, REDIS_KEY_PREFIX: `${redis!.prefix}_api`, TRUST_PROXY: 'true', ADMIN_TOKEN: adminToken, CLIENT_ADDRESS_HASH_KEY: 'rate-limits-address-key-0123', RATE_LIMITS: 'on' };
  replicas = [await startBuiltService({ ...env, MIGRATE_ON_START: 'true' })];
  replicas.push(await startBuiltService({ ...env, MIGRATE_ON_START: 'false' }));
  project = (await (await post(replicas[0]!, '/v1/projects', adminToken, { name: 'limits' })).json()) as typeof project;
  await fetch(`${replicas[0]!.url}/v1/polls/likes`, { method: 'PUT', headers: headers(project.secretKey), body: JSON.stringify({ kind: 'like' }) });
}, 120_000);

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  await redis?.dispose();
  await database.dispose();
});

function headers(key: string, address?: string) {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(address === undefined ? {} : { 'x-forwarded-for': address }) };
}

function post(replica: BuiltService, path: string, key: string, body: unknown, address?: string) {
  return fetch(replica.url + path, { method: 'POST', headers: headers(key, address), body: body === undefined ? undefined : JSON.stringify(body) });
}

const vote = (replica: BuiltService, address: string, voter: string, target = 'post-1') =>
  post(replica, '/v1/polls/likes/votes', project.publicKey, { target, voter, value: 1 }, address);

async function countEvents(): Promise<number> {
  const row = await database.db.selectFrom('vote_events').select((eb) => eb.fn.countAll<string>().as('n')).where('project_id', '=', project.id).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('rate limits across two API replicas sharing Redis', () => {
  it('refuses the 61st vote in a minute from one address with 429 and the RateLimit headers, while another address votes on', async (context) => {
    if (!shared()) context.skip();
    const statuses: number[] = [];
    for (let i = 0; i < 60; i += 1) {
      const response = await vote(replicas[i % 2]!, '203.0.113.7', `stuffed-${i}`);
      statuses.push(response.status);
      if (i === 0) {
        expect(response.headers.get('ratelimit-policy')).toBe('"votes-per-address";q=60;w=60, "votes-per-voter";q=30;w=60');
        expect(response.headers.get('ratelimit')).toMatch(/^"votes-per-address";r=59;t=\d+, "votes-per-voter";r=29;t=\d+$/);
      }
    }
    expect(statuses).toEqual(Array(60).fill(200));
    const before = await countEvents();

    for (const replica of replicas) {
      const refused = await vote(replica, '203.0.113.7', 'one-more');
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ type: 'urn:clickvote:problem:rate_limited', detail: expect.stringMatching(/votes-per-address/) });
      expect(refused.headers.get('ratelimit-policy')).toContain('"votes-per-address";q=60;w=60');
      const [, secondsLeft] = /"votes-per-address";r=0;t=(\d+)/.exec(refused.headers.get('ratelimit') ?? '') ?? [];
      // Retry-After is when this address's window ends, the same moment RateLimit announces.
      expect(refused.headers.get('retry-after')).toBe(secondsLeft);
      expect(Number(secondsLeft)).toBeGreaterThanOrEqual(1);
      expect(Number(secondsLeft)).toBeLessThanOrEqual(60);
    }
    expect(await countEvents()).toBe(before);
    // Refused by address before the voter is counted: a flood of invented voters leaves no counter each.
    expect(await redis!.client.exists(`${redis!.prefix}_api:ratelimit:votesPerVoter:${project.id}:one-more`)).toBe(0);
    expect(await redis!.client.exists(`${redis!.prefix}_api:ratelimit:votesPerVoter:${project.id}:stuffed-0`)).toBe(1);

    expect((await vote(replicas[1]!, '203.0.113.8', 'neighbour')).status).toBe(200);
    expect((await vote(replicas[0]!, '203.0.113.8', 'neighbour-2')).status).toBe(200);
  });

  it('refuses the 31st vote in a minute by one voter, from whatever address', async (context) => {
    if (!shared()) context.skip();
    for (let i = 0; i < 30; i += 1) expect((await vote(replicas[i % 2]!, `198.51.100.${i}`, 'busy-voter', `item-${i}`)).status).toBe(200);
    const refused = await vote(replicas[0]!, '198.51.100.200', 'busy-voter', 'item-30');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toMatch(/"votes-per-voter";r=0/);
    expect((await vote(replicas[1]!, '198.51.100.201', 'calm-voter', 'item-30')).status).toBe(200);
  });

  it('refuses the 11th anonymous voter minted in a minute from one address', async (context) => {
    if (!shared()) context.skip();
    const patched = await fetch(`${replicas[0]!.url}/v1/projects/current`, { method: 'PATCH', headers: headers(project.secretKey), body: JSON.stringify({ voterPolicy: 'anonymous' }) });
    expect(patched.status).toBe(200);
    // The other replica learns of the new policy within its key cache time.
    await expect.poll(async () => (await post(replicas[1]!, '/v1/voters', project.publicKey, undefined, '192.0.2.99')).status, { timeout: 15_000, interval: 500 }).toBe(201);
    for (let i = 0; i < 10; i += 1) expect((await post(replicas[i % 2]!, '/v1/voters', project.publicKey, undefined, '192.0.2.1')).status).toBe(201);
    const refused = await post(replicas[1]!, '/v1/voters', project.publicKey, undefined, '192.0.2.1');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-policy')).toBe('"voters-per-address";q=10;w=60');
    expect((await post(replicas[0]!, '/v1/voters', project.publicKey, undefined, '192.0.2.2')).status).toBe(201);
  });
});
