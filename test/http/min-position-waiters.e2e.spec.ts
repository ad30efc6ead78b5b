import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedis, type RedisClient } from '../../src/platform/redis.js';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';
import { startPrivateRedisServer } from '../support/redis.js';

const waiters = 500;
let server: Awaited<ReturnType<typeof startPrivateRedisServer>>;
let app: TestApp;
let counter: RedisClient;
let project: { publicKey: string };

beforeAll(async () => {
  server = await startPrivateRedisServer();
  if (server === undefined) return;
  // No safety poll in this file: every call counted here is one the projector's progress caused.
  // Up to 200 votes from one address, and no rate limit counters among the calls: limits off.
  app = await startTestApp({ redisUrl: server.url, maxWaiters: waiters, progressPollMs: 600_000, rateLimits: 'off' });
  counter = await connectRedis(server.url);
  project = await createProjectOverHttp(app, 'waiters', { likes: { kind: 'like' } });
});

afterAll(async () => {
  await counter?.quit();
  await app?.close();
  server?.stop();
});

const vote = (voter: string) => call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'hot', voter, value: 1 } });
const read = (minPosition: string) => call(app, 'GET', `/v1/polls/likes/tallies/hot?minPosition=${minPosition}&waitMs=10000`, { key: project.publicKey });

async function commandCalls(): Promise<Record<string, number>> {
  const info = await counter.info('commandstats');
  return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(([, name, calls]) => [name!, Number(calls)]));
}

describe('readers waiting for a position (minPosition)', () => {
  it(`cost a few Redis calls per projector batch, however many wait, and are capped at ${waiters}`, async (context) => {
    if (server === undefined) context.skip();
    const first = await vote('first');
    expect((await read(first.body.position)).status).toBe(200);
    // What one answered read costs by itself (GETs inside scripts count too).
    await counter.configResetStat();
    expect((await read(first.body.position)).status).toBe(200);
    const getsPerRead = (await commandCalls()).get ?? 0;
    // A position a few transactions ahead: the log reaches it after a few more votes.
    const ahead = `${BigInt(first.body.position.split('.')[0]) + 20n}.0`;

    await counter.configResetStat();
    const started = performance.now();
    const answers = Array.from({ length: waiters }, () => read(ahead));
    await vi.waitFor(() => expect(app.progress.waiting).toBe(waiters), { timeout: 30_000, interval: 20 });
    const refused = await read(ahead);
    expect(refused.status).toBe(503);
    expect(refused.body.type).toBe('urn:clickvote:problem:over_capacity');
    expect(refused.headers.get('retry-after')).toBe('1');

    let settled = false;
    const all = Promise.all(answers).finally(() => (settled = true));
    let votes = 0;
    for (; !settled && votes < 200; votes += 1) await vote(`voter-${votes}`);
    const statuses = (await all).map((answer) => answer.status);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    const calls = await commandCalls();
    const batches = calls.publish ?? 0;
    const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
    // Each answered read costs what a read costs; waiting must add almost nothing.
    const waitingGets = (calls.get ?? 0) - (waiters + 1) * getsPerRead;
    console.log(`${waiters} waiters, ${votes} votes: ${batches} projector batches, ${calls.get ?? 0} GETs (${waitingGets} beyond ${getsPerRead} per read), ${total} Redis calls in ${Math.round(performance.now() - started)} ms`);
    expect(batches).toBeGreaterThan(0);
    // The projector's GETs count here too: one for each catch-up a vote wakes, and a few a batch
    // for its write fence (generation, checkpoint, checked inside the write scripts). A cost that
    // grew with the waiters would be hundreds a batch.
    expect(waitingGets).toBeLessThanOrEqual(votes + 6 * batches + 5);
  }, 120_000);
});
