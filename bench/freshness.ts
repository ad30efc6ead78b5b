import { randomBytes } from 'node:crypto';
import { comparePositions, parsePosition } from '../src/domain/position.js';
import { connectRedis } from '../src/platform/redis.js';
import { RedisKeys } from '../src/projections/tallies/redis-keys.js';
import type { FeedMessage } from '../src/projections/realtime/tally-feed.js';
import { type BenchRow, milliseconds } from './report.js';
import { createProjectWithPoll, type RunningService, startService } from './service.js';
import { benchRedisUrl, createBenchDatabase, deleteBenchKeys, envNumber } from './support.js';

/**
 * Freshness: the delay from a vote's HTTP answer to the projector announcing a tally that holds
 * it, at a steady rate of votes against the built service. Measured in the deployed topology
 * (compose and Kubernetes run the API and the projector as separate processes) and in one
 * process (ROLE=all, the embedded default), where the projector shares the API's event loop.
 */
export async function benchFreshness(): Promise<BenchRow[]> {
  return [await measureFreshness('split'), await measureFreshness('one-process')];
}

async function measureFreshness(topology: 'split' | 'one-process'): Promise<BenchRow> {
  const rate = envNumber('BENCH_FRESHNESS_RATE', 1000);
  const seconds = envNumber('BENCH_FRESHNESS_SECONDS', 10);
  const database = await createBenchDatabase(1);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  const env = { DATABASE_URL: database.url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix, MIGRATE_ON_START: 'true' };
  const services: RunningService[] = [];
  const redis = await connectRedis(benchRedisUrl);
  const subscriber = redis.duplicate();
  await subscriber.connect();
  try {
    services.push(await startService({ ...env, ROLE: topology === 'split' ? 'api' : 'all' }));
    if (topology === 'split') services.push(await startService({ ...env, ROLE: 'projector' }));
    const api = services[0]!;
    const project = await createProjectWithPoll(api);
    const waiting = new Map<string, { position: string; answeredAt: number }[]>();
    const published = new Map<string, string>();
    const delays: number[] = [];
    const covers = (shown: string, position: string) => comparePositions(parsePosition(position)!, parsePosition(shown)!) <= 0;
    await subscriber.subscribe(RedisKeys.channelOf(prefix), (message) => {
      const now = performance.now();
      for (const update of (JSON.parse(message) as FeedMessage).updates) {
        published.set(update.target, update.position);
        const pending = waiting.get(update.target) ?? [];
        waiting.set(
          update.target,
          pending.filter((vote) => (covers(update.position, vote.position) ? (delays.push(now - vote.answeredAt), false) : true)),
        );
      }
    });

    let sent = 0;
    const votes: Promise<void>[] = [];
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      for (const due = Math.floor(((performance.now() - started) / 1000) * rate); sent < due; sent += 1) {
        const target = `t${Math.floor(Math.random() * 1000)}`;
        votes.push(
          post(api, '/v1/polls/votes/votes', project.publicKey, { target, voter: `v${sent}`, value: Math.random() < 0.5 ? 1 : -1 })
            .then(async (response) => {
              if (!response.ok) throw new Error(`a vote was answered ${response.status}: ${await response.text()}`);
              return response.json() as Promise<{ position: string }>;
            })
            .then(({ position }) => {
              // The tally can be announced before this process has read the vote's answer.
              const shown = published.get(target);
              if (shown !== undefined && covers(shown, position)) delays.push(0);
              else waiting.set(target, [...(waiting.get(target) ?? []), { position, answeredAt: performance.now() }]);
            }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(votes);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const unseen = [...waiting.values()].reduce((n, pending) => n + pending.length, 0);
    delays.sort((a, b) => a - b);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? Number.NaN;
    const p99 = at(0.99);
    const where = topology === 'split' ? 'API and projector processes' : 'API and projector in one process';
    return {
      scenario: `freshness at ${rate.toLocaleString('en-US')} votes/s, ${where} (POST answer -> tally published)`,
      ours: `p50 ${milliseconds(at(0.5))}, p99 ${milliseconds(p99)}${unseen > 0 ? `, ${unseen} never seen` : ''}`,
      baseline: '—',
      ratio: null,
      target: 'p99 <= 50 ms',
      met: unseen === 0 && p99 <= 50,
      peakRssMb: Object.fromEntries(services.map((service, index) => [topology === 'split' ? ['api', 'projector'][index]! : 'api+projector', service.peakRssMb()])),
      figures: { rate, votes: sent, seen: delays.length, p50Ms: at(0.5), p99Ms: p99, maxMs: delays.at(-1) ?? Number.NaN },
    };
  } finally {
    await subscriber.quit();
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    for (const service of services.reverse()) await service.stop();
    await database.dispose();
  }
}

/** A vote, sent again once when the server closed a kept-alive connection as the request went out (no answer: nothing acknowledged). */
async function post(service: RunningService, path: string, key: string, body: unknown): Promise<Response> {
  const send = () => fetch(service.baseUrl + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  try {
    return await send();
  } catch {
    return send();
  }
}
