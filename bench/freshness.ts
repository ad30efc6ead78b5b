import { randomBytes } from 'node:crypto';
import { comparePositions, parsePosition } from '../src/domain/position.js';
import { connectRedis } from '../src/platform/redis.js';
import { RedisKeys } from '../src/projections/redis-keys.js';
import type { TallyUpdate } from '../src/projections/tally-feed.js';
import { startService } from './service.js';
import { createBenchDatabase, envNumber, markdownTable } from './support.js';

/**
 * Freshness: the delay from a vote's HTTP answer to the projector announcing a tally that holds
 * it, at a steady rate of votes against the real service (API and projector in one process).
 */
const rate = envNumber('BENCH_FRESHNESS_RATE', 1000);
const seconds = envNumber('BENCH_FRESHNESS_SECONDS', 10);
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const database = await createBenchDatabase(1);
const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
const service = await startService({ DATABASE_URL: database.url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, MIGRATE_ON_START: 'true' });
const redis = await connectRedis(redisUrl);
const subscriber = redis.duplicate();
await subscriber.connect();

try {
  const project = (await (await post('/v1/projects', service.adminToken, { name: 'freshness' })).json()) as { publicKey: string; secretKey: string };
  await fetch(`${service.baseUrl}/v1/polls/votes`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${project.secretKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'updown' }),
  });

  const waiting = new Map<string, { position: string; answeredAt: number }[]>();
  const published = new Map<string, string>();
  const postLatencies: number[] = [];
  const delays: number[] = [];
  await subscriber.subscribe(RedisKeys.channelOf(prefix), (message) => {
    const now = performance.now();
    for (const update of JSON.parse(message) as TallyUpdate[]) {
      published.set(update.target, update.position);
      const pending = waiting.get(update.target);
      if (pending === undefined) continue;
      const shown = parsePosition(update.position)!;
      const still = pending.filter((vote) => {
        if (comparePositions(parsePosition(vote.position)!, shown) > 0) return true;
        delays.push(now - vote.answeredAt);
        return false;
      });
      waiting.set(update.target, still);
    }
  });

  let sent = 0;
  const votes: Promise<void>[] = [];
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent += 1) {
      const target = `t${Math.floor(Math.random() * 1000)}`;
      const sentAt = performance.now();
      votes.push(
        post('/v1/polls/votes/votes', project.publicKey, { target, voter: `v${sent}`, value: Math.random() < 0.5 ? 1 : -1 })
          .then((response) => response.json() as Promise<{ position: string }>)
          .then((answer: { position: string }) => {
            postLatencies.push(performance.now() - sentAt);
            const shown = published.get(target);
            // The tally can be announced before this process has read the vote's answer.
            if (shown !== undefined && comparePositions(parsePosition(answer.position)!, parsePosition(shown)!) <= 0) {
              delays.push(0);
              return;
            }
            const pending = waiting.get(target) ?? [];
            pending.push({ position: answer.position, answeredAt: performance.now() });
            waiting.set(target, pending);
          }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(votes);
  await new Promise((resolve) => setTimeout(resolve, 1000));

  delays.sort((a, b) => a - b);
  postLatencies.sort((a, b) => a - b);
  const postAt = (q: number) => postLatencies[Math.min(postLatencies.length - 1, Math.floor(q * postLatencies.length))] ?? Number.NaN;
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN;
  const unseen = [...waiting.values()].reduce((n, pending) => n + pending.length, 0);
  console.log(`\nFreshness at ${rate} votes/s for ${seconds} s (${sent} votes, ${delays.length} seen, ${unseen} not seen)\n`);
  console.log(
    markdownTable(
      ['scenario', 'p50 ms', 'p99 ms', 'max ms', 'target', 'API+projector peak RSS MB'],
      [['POST round trip (for reference)', postAt(0.5).toFixed(1), postAt(0.99).toFixed(1), (postLatencies.at(-1) ?? Number.NaN).toFixed(1), '', ''],
       ['POST answer -> tally published', at(0.5).toFixed(1), at(0.99).toFixed(1), (delays.at(-1) ?? Number.NaN).toFixed(1), 'p99 <= 50 ms', service.peakRssMb().toFixed(0)]],
    ),
  );
} finally {
  await subscriber.quit();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) if (keys.length > 0) await redis.unlink(keys);
  await redis.quit();
  await service.stop();
  await database.dispose();
}

function post(path: string, key: string, body: unknown): Promise<Response> {
  return fetch(service.baseUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
