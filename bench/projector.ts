import { randomBytes } from 'node:crypto';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { formatPosition } from '../src/domain/position.js';
import { connectRedis } from '../src/platform/redis.js';
import { readEventsAfter, readLogHead } from '../src/projections/log-queries/log-reader.js';
import { RedisKeys } from '../src/projections/tallies/redis-keys.js';
import { type BenchRow, perSecond } from './report.js';
import { type RunningService, startService } from './service.js';
import { benchRedisUrl, createBenchDatabase, deleteBenchKeys, envNumber, fillZipfLog, timed } from './support.js';

/**
 * Projector catch-up over a pre-filled log with Zipf-skewed targets, against a same-run baseline
 * that reads the same events through the same cursor query and discards them. Ours is timed
 * from starting the projector process (ROLE=projector, from the build) until its checkpoint
 * reaches the head of the log.
 */
export async function benchProjector(): Promise<BenchRow[]> {
  const totalEvents = envNumber('BENCH_PROJECTOR_EVENTS', 1_000_000);
  const targets = envNumber('BENCH_PROJECTOR_TARGETS', 100_000);
  const batchSize = envNumber('PROJECTOR_BATCH_SIZE', 10_000);
  const database = await createBenchDatabase(4);
  const redis = await connectRedis(benchRedisUrl);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  try {
    const project = await createProject(database.db, 'bench');
    await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    await fillZipfLog(database.db, project.id, totalEvents, targets);

    const baseline = await timed(async () => {
      let after;
      for (let events = await readEventsAfter(database.db, after, batchSize); events.length > 0; events = await readEventsAfter(database.db, after, batchSize)) {
        after = events.at(-1)!.position;
      }
    });

    const head = formatPosition((await readLogHead(database.db))!.position);
    const checkpointKey = new RedisKeys(prefix, 1).checkpoint();
    let service: RunningService | undefined;
    const ours = await timed(async () => {
      service = await startService({ ROLE: 'projector', DATABASE_URL: database.url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix, PROJECTOR_BATCH_SIZE: String(batchSize) });
      const deadline = Date.now() + 15 * 60_000;
      while ((await redis.get(checkpointKey)) !== head) {
        if (service.child.exitCode !== null) throw new Error(`the projector exited with ${service.child.exitCode}`);
        if (Date.now() > deadline) throw new Error('the projector did not catch up within 15 minutes');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const peak = service!.peakRssMb();
    await service!.stop();

    const oursRate = totalEvents / ours;
    const baselineRate = totalEvents / baseline;
    return [
      {
        scenario: `projector catch-up, ${totalEvents.toLocaleString('en-US')} events, ${targets.toLocaleString('en-US')} Zipf targets`,
        ours: perSecond(oursRate),
        baseline: `${perSecond(baselineRate)} (same cursor reads, events discarded)`,
        ratio: oursRate / baselineRate,
        target: '>= 150,000/s, RSS <= 300 MB',
        met: oursRate >= 150_000 && peak <= 300,
        peakRssMb: { projector: peak },
        figures: { events: totalEvents, targets, oursPerSecond: oursRate, baselinePerSecond: baselineRate },
      },
    ];
  } finally {
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    await database.dispose();
  }
}
