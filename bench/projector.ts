import { randomBytes } from 'node:crypto';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { connectRedis } from '../src/platform/redis.js';
import { formatPosition } from '../src/domain/position.js';
import { readEventsAfter, readLogHead } from '../src/projections/log-reader.js';
import { RedisKeys } from '../src/projections/redis-keys.js';
import { type RunningService, startService } from './service.js';
import { createBenchDatabase, envNumber, fillZipfLog, formatRate, markdownTable, timed } from './support.js';

/**
 * Projector catch-up over a pre-filled log with Zipf-skewed targets, against a same-run baseline
 * that reads the same events through the same cursor query and discards them. Ours is timed
 * from starting the projector process until its checkpoint reaches the head of the log.
 */
const totalEvents = envNumber('BENCH_PROJECTOR_EVENTS', 1_000_000);
const targets = envNumber('BENCH_PROJECTOR_TARGETS', 100_000);
const batchSize = envNumber('PROJECTOR_BATCH_SIZE', 10_000);
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const database = await createBenchDatabase(4);
const redis = await connectRedis(redisUrl);
const prefix = `cvbench_${randomBytes(4).toString('hex')}`;

try {
  const project = await createProject(database.db, 'bench');
  await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
  const filling = performance.now();
  await fillZipfLog(database.db, project.id, totalEvents, targets);
  const fillSeconds = (performance.now() - filling) / 1000;

  const baseline = process.env.BENCH_SKIP_BASELINE === '1' ? Number.NaN : await timed(async () => {
    let after;
    for (;;) {
      const events = await readEventsAfter(database.db, after, batchSize);
      if (events.length === 0) return;
      after = events.at(-1)!.position;
    }
  });

  // The projector runs as its own process (ROLE=projector, from the build), as in production.
  const head = formatPosition((await readLogHead(database.db))!.position);
  const checkpointKey = new RedisKeys(prefix, 1).checkpoint();
  let service: RunningService | undefined;
  const ours = await timed(async () => {
    service = await startService({ ROLE: 'projector', DATABASE_URL: database.url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PROJECTOR_BATCH_SIZE: String(batchSize) });
    while ((await redis.get(checkpointKey)) !== head) await new Promise((resolve) => setTimeout(resolve, 20));
  });
  const peakRssMb = service!.peakRssMb();
  await service!.stop();

  const oursRate = totalEvents / ours;
  const baselineRate = totalEvents / baseline;
  console.log(`\nProjector catch-up: ${totalEvents.toLocaleString('en-US')} events, ${targets.toLocaleString('en-US')} Zipf-skewed targets, batch ${batchSize} (log filled in ${fillSeconds.toFixed(1)} s)\n`);
  console.log(
    markdownTable(
      ['scenario', 'ours events/s', 'baseline events/s (cursor read, discarded)', 'ratio', 'projector peak RSS MB'],
      [['catch-up into Redis', formatRate(oursRate), formatRate(baselineRate), `${(oursRate / baselineRate).toFixed(2)}x`, peakRssMb.toFixed(0)]],
    ),
  );
  console.log(`\nTarget >= 150,000 events/s: ${oursRate >= 150_000 ? 'met' : 'NOT met'}`);
} finally {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) if (keys.length > 0) await redis.unlink(keys);
  await redis.quit();
  await database.dispose();
}

