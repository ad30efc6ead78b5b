import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltService, imageNodeOptions, startBuiltService } from '../support/built-service.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';
import { openStreams } from '../support/stream-flood.js';

/**
 * An attacker holding only a public key, against an API that runs as the image runs it: built,
 * ROLE=api, the image's heap cap, default limits, its projector in another process.
 */
let database: TestDatabase;
let redis: TestRedis | undefined;
let dataDir: string;
let projector: BuiltService | undefined;
let api: BuiltService | undefined;
let demo: { publicKey: string; secretKey: string };
const clientAddress = '203.0.113.77';

const apiEnv = () => ({
  DATABASE_URL: database.url!,
  REDIS_URL: redis!.url,
  REDIS_KEY_PREFIX: redis!.prefix,
  ROLE: 'api',
  TRUST_PROXY: 'loopback',
  LOG_LEVEL: 'trace',
  CREATE_DEMO_PROJECT: 'true',
  DATA_DIR: dataDir,
  HTTP_REQUEST_TIMEOUT_MS: '2000',
  HTTP_HEADERS_TIMEOUT_MS: '2000',
  RATE_LIMITS: 'off',
});

const startApi = () => startBuiltService(apiEnv(), { nodeArgs: imageNodeOptions, stdout: 'capture' });

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
  if (database.url === undefined || redis === undefined) return;
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'clickvote-hostile-'));
  projector = await startBuiltService({ DATABASE_URL: database.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, ROLE: 'projector' }, { nodeArgs: imageNodeOptions });
  api = await startApi();
  demo = JSON.parse(await readFile(path.join(dataDir, 'demo-project.json'), 'utf8'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await projector?.stop();
  await redis?.dispose();
  await database?.dispose();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

const skipWithoutServers = (context: { skip: () => void }) => {
  if (api === undefined) {
    console.warn('\n*** hostile-clients: no PostgreSQL server or no Redis: SKIPPED ***\n');
    context.skip();
  }
};

async function request(route: string, options: { key?: string; method?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'x-forwarded-for': clientAddress };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(api!.url + route, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
}

async function voteAndRead(voter: string): Promise<number[]> {
  const cast = await request('/v1/polls/likes/votes', { method: 'POST', key: demo.publicKey, body: { target: 'post-1', voter, value: 1 } });
  const read = await request(`/v1/polls/likes/tallies/post-1?minPosition=${cast.body.position}&waitMs=10000`, { key: demo.publicKey });
  return [cast.status, read.status];
}

describe('a flood of realtime streams', () => {
  it('1,252 streams of 100 targets from as many addresses: the process stays up and keeps answering votes and reads', async (context) => {
    skipWithoutServers(context);
    const flood = await openStreams(api!.url, { count: 1252, targets: 100, key: demo.publicKey, poll: 'likes', addresses: 1252 });
    try {
      expect(api!.running()).toBe(true);
      expect(flood.failed).toEqual({});
      // The defaults: 50,000 subscribed targets per process, i.e. 500 streams of 100 targets.
      expect(flood.statuses[200]).toBe(500);
      expect(Object.keys(flood.statuses).sort()).toEqual(['200', '503']);
      expect(flood.refusalsHadRetryAfter).toBe(true);
      expect(await voteAndRead('during-the-flood')).toEqual([200, 200]);
    } finally {
      flood.close();
    }
    expect(await voteAndRead('after-the-flood')).toEqual([200, 200]);
    expect(api!.running()).toBe(true);
  }, 120_000);

  it('one client address gets its share and then a 429 with Retry-After', async (context) => {
    skipWithoutServers(context);
    const flood = await openStreams(api!.url, { count: 30, targets: 1, key: demo.publicKey, poll: 'likes', addresses: 1 });
    flood.close();
    expect(flood.statuses).toEqual({ 200: 20, 429: 10 });
    expect(flood.refusalsHadRetryAfter).toBe(true);
  });
});

describe('a client that sends its body slowly', () => {
  it('is cut off once HTTP_REQUEST_TIMEOUT_MS has passed', async (context) => {
    skipWithoutServers(context);
    const { port } = new URL(api!.url);
    const socket = connect(Number(port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(`POST /v1/polls/likes/votes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${demo.publicKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    // Generous: the server allows 2 s; without a request timeout it would wait 300 s.
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 30_000))]);
    clearInterval(trickle);
    socket.destroy();
    expect(outcome).toBe('closed');
  }, 60_000);
});

describe('what the logs hold', () => {
  it('never a key, a voter id from a query or a client address; the demo secret once, when created', async (context) => {
    skipWithoutServers(context);
    await voteAndRead('body-voter');
    expect((await request('/v1/polls/likes/tallies/post-1?voter=query-voter-one', { key: demo.publicKey })).status).toBe(200);
    expect((await request('/v1/audit/events?voter=query-voter-two', { key: demo.secretKey })).status).toBe(200);
    expect((await request('/v1/polls/likes/tallies/post-1?voter=query-voter-three&waitMs=nope', { key: demo.publicKey })).status).toBe(400);
    const refused = await request(`/v1/polls/likes/stream?target=post-1&key=${demo.secretKey}`);
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/Authorization/);
    expect((await request(`/v1/polls?key=${demo.secretKey}`)).status).toBe(403);
    expect((await request(`/v1/polls?key=${demo.publicKey}`)).status).toBe(401);
    const stream = await openStreams(api!.url, { count: 1, targets: 1, key: demo.publicKey, poll: 'likes', addresses: 1 });
    stream.close();
    expect(stream.statuses).toEqual({ 200: 1 });

    const firstRun = api!.output();
    expect(await api!.stop()).toBe(0);
    api = await startApi();
    await voteAndRead('after-restart');
    const secondRun = api.output();

    expect(firstRun.split(demo.secretKey).length - 1).toBe(1);
    expect(secondRun).not.toContain(demo.secretKey);
    const logLines = [firstRun, secondRun].flatMap((run) => run.split('\n')).filter((line) => line.startsWith('{'));
    const requestLines = logLines.filter((line) => line.includes('"reqId"'));
    expect(requestLines.length).toBeGreaterThan(10);
    const log = logLines.join('\n');
    for (const secret of [demo.secretKey, demo.publicKey, 'query-voter-', clientAddress, '127.0.0.1', 'remoteAddress', 'remotePort']) {
      expect(log, `the log holds ${secret}`).not.toContain(secret);
    }
    expect(requestLines.some((line) => line.includes('voter=-'))).toBe(true);
  }, 120_000);
});
