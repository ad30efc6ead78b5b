import path from 'node:path';
import { connectRedis } from '../src/platform/redis.js';
import { type BuiltService, imageNodeOptions, startBuiltService } from '../test/support/built-service.js';
import { startPrivateRedisServer } from '../test/support/redis.js';
import { openStreams, redisCalls } from '../test/support/stream-flood.js';
import { createBenchDatabase, envNumber } from './support.js';

/**
 * The floods of issue 11 against built services, each on its own redis-server so its command
 * counts are its own: `tsx bench/hostile-clients.ts [build root …]` (default: this checkout).
 * Pass the root of another checkout's build first to get before and after in one run.
 */
const streams = envNumber('FLOOD_STREAMS', 1252);
const targets = envNumber('FLOOD_TARGETS', 100);
const waiters = envNumber('FLOOD_WAITERS', 500);
const adminToken = 'flood-admin-token-0123456789';
const roots = process.argv.slice(2).map((root) => path.resolve(root));

for (const root of roots.length > 0 ? roots : [path.resolve(import.meta.dirname, '..')]) console.log(JSON.stringify({ root, ...(await flood(root)) }));

async function flood(root: string) {
  const redisServer = (await startPrivateRedisServer())!;
  const redis = await connectRedis(redisServer.url);
  const database = await createBenchDatabase(2);
  const env = { DATABASE_URL: database.url, REDIS_URL: redisServer.url, ADMIN_TOKEN: adminToken, TRUST_PROXY: 'loopback', RATE_LIMITS: 'off' };
  const start = (role: string) => startBuiltService({ ...env, ROLE: role, LOG_LEVEL: 'warn' }, { root, nodeArgs: imageNodeOptions });
  const projector = await start('projector');
  let api = await start('api');
  const project = await json(api, 'POST', '/v1/projects', adminToken, { name: 'flood' });
  await json(api, 'PUT', '/v1/polls/likes', project.secretKey, { kind: 'like' });
  try {
    const sse = await measure(redis, api, async () => {
      const opened = await openStreams(api.url, { count: streams, targets, key: project.publicKey, poll: 'likes', addresses: streams });
      const answering = api.running() && (await voteAndRead(api, project.publicKey, 'after-sse')) === 200;
      const heapUsedMb = api.running() ? await heapUsed(api) : undefined;
      opened.close();
      return { statuses: opened.statuses, failed: opened.failed, answering, heapUsedMbWhileOpen: heapUsedMb };
    });
    if (!api.running()) api = await start('api');
    const longPoll = await measure(redis, api, async () => {
      const first = await vote(api, project.publicKey, 'first');
      const ahead = `${BigInt(first.position.split('.')[0]!) + 1_000_000n}.0`;
      const answers = Array.from({ length: waiters }, () => fetch(`${api.url}/v1/polls/likes/tallies/x?minPosition=${ahead}&waitMs=3000`, { headers: { authorization: `Bearer ${project.publicKey}` } }).then((r) => r.status, () => 0));
      for (let i = 0; i < 20; i += 1) await vote(api, project.publicKey, `v${i}`).catch(() => {});
      const statuses: Record<number, number> = {};
      for (const status of await Promise.all(answers)) statuses[status] = (statuses[status] ?? 0) + 1;
      return { statuses };
    });
    return { sse, longPoll };
  } finally {
    await api.stop();
    await projector.stop();
    await redis.quit();
    redisServer.stop();
    await database.dispose();
  }
}

async function measure<T>(redis: Awaited<ReturnType<typeof connectRedis>>, api: BuiltService, work: () => Promise<T>) {
  const callsBefore = redisCalls(await redis.info('commandstats'));
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const calls = redisCalls(await redis.info('commandstats')) - callsBefore;
  const died = api.running() ? undefined : /FATAL ERROR[^\n]*/.exec(api.stderr())?.[0] ?? 'exited';
  return { ...result, apiAlive: api.running(), died, peakRssMb: api.peakRssMb(), seconds: Number(seconds.toFixed(1)), redisCallsPerSecond: Math.round(calls / seconds) };
}

async function json(service: BuiltService, method: string, route: string, key: string, body: unknown) {
  const response = await fetch(service.url + route, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await response.json()) as { publicKey: string; secretKey: string; position: string };
}

function vote(service: BuiltService, key: string, voter: string) {
  return json(service, 'POST', '/v1/polls/likes/votes', key, { target: 'x', voter, value: 1 });
}

async function voteAndRead(service: BuiltService, key: string, voter: string): Promise<number> {
  try {
    const cast = await vote(service, key, voter);
    return (await fetch(`${service.url}/v1/polls/likes/tallies/x?minPosition=${cast.position}&waitMs=5000`, { headers: { authorization: `Bearer ${key}` } })).status;
  } catch {
    return 0;
  }
}

async function heapUsed(service: BuiltService): Promise<number | undefined> {
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  const bytes = /^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1];
  return bytes === undefined ? undefined : Math.round(Number(bytes) / 2 ** 20);
}
