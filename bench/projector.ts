import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { formatPosition } from '../src/domain/position.js';
import type { Database } from '../src/platform/database.js';
import { connectRedis, type RedisClient } from '../src/platform/redis.js';
import { readEventsAfter, readLogHead } from '../src/projections/log-queries/log-reader.js';
import { RedisKeys } from '../src/projections/tallies/redis-keys.js';
import { type BenchRow, perSecond } from './report.js';
import { type RunningService, startService } from './service.js';
import { benchRedisUrl, createBenchDatabase, deleteBenchKeys, envNumber, fillZipfLog, timed } from './support.js';

interface CatchUpScenario {
  readonly name: string;
  readonly events: number;
  readonly targets: number;
  readonly fill: (db: Kysely<Database>, projectId: string) => Promise<void>;
}

/**
 * Projector catch-up over a pre-filled log, against a same-run baseline that reads the same events
 * through the same cursor query and discards them. Two logs: Zipf-skewed votes committed 1,000 to
 * a transaction, and one transaction of 600,000 events (an import, a bulk moderation). Ours is
 * timed from starting the projector process (ROLE=projector, from the build) until its checkpoint
 * reaches the head of the log; its peak RSS is sampled meanwhile.
 */
export async function benchProjector(): Promise<BenchRow[]> {
  const events = envNumber('BENCH_PROJECTOR_EVENTS', 1_000_000);
  const targets = envNumber('BENCH_PROJECTOR_TARGETS', 100_000);
  const oneTransaction = envNumber('BENCH_PROJECTOR_TRANSACTION_EVENTS', Math.round(events * 0.6));
  const scenarios: CatchUpScenario[] = [
    {
      name: `projector catch-up, ${events.toLocaleString('en-US')} events, ${targets.toLocaleString('en-US')} Zipf targets`,
      events,
      targets,
      fill: (db, projectId) => fillZipfLog(db, projectId, events, targets),
    },
    {
      name: `projector catch-up, one transaction of ${oneTransaction.toLocaleString('en-US')} events, ${targets.toLocaleString('en-US')} Zipf targets`,
      events: oneTransaction,
      targets,
      fill: (db, projectId) => fillOneTransaction(db, projectId, oneTransaction, targets),
    },
  ];
  const rows: BenchRow[] = [];
  for (const scenario of scenarios) rows.push(await benchCatchUp(scenario));
  return rows;
}

async function benchCatchUp(scenario: CatchUpScenario): Promise<BenchRow> {
  const batchSize = envNumber('PROJECTOR_BATCH_SIZE', 10_000);
  const database = await createBenchDatabase(4);
  const redis = await connectRedis(benchRedisUrl);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  try {
    const project = await createProject(database.db, 'bench');
    await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    await scenario.fill(database.db, project.id);
    await sql`analyze vote_events`.execute(database.db);

    const baseline = await timed(async () => {
      let after;
      for (let events = await readEventsAfter(database.db, after, batchSize); events.length > 0; events = await readEventsAfter(database.db, after, batchSize)) {
        after = events.at(-1)!.position;
      }
    });

    const head = formatPosition((await readLogHead(database.db))!.position);
    let service: RunningService | undefined;
    let start = 0;
    const ours = await timed(async () => {
      start = await timed(async () => {
        service = await startService({ ROLE: 'projector', DATABASE_URL: database.url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix, PROJECTOR_BATCH_SIZE: String(batchSize) });
      });
      await waitForCheckpoint(redis, new RedisKeys(prefix, 1).checkpoint(), head, service!);
    });
    const peak = service!.peakRssMb();
    await service!.stop();

    const oursRate = scenario.events / ours;
    const baselineRate = scenario.events / baseline;
    const ratio = oursRate / baselineRate;
    return {
      scenario: scenario.name,
      ours: perSecond(oursRate),
      baseline: `${perSecond(baselineRate)} (same cursor reads, events discarded)`,
      ratio,
      target: '>= 0.4x, RSS <= 300 MB',
      met: ratio >= 0.4 && peak <= 300,
      peakRssMb: { projector: peak },
      figures: { events: scenario.events, targets: scenario.targets, batchSize, oursPerSecond: oursRate, baselinePerSecond: baselineRate, processStartSeconds: start, ratioAfterStart: scenario.events / (ours - start) / baselineRate },
    };
  } finally {
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    await database.dispose();
  }
}

async function waitForCheckpoint(redis: RedisClient, checkpointKey: string, head: string, service: RunningService): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  while ((await redis.get(checkpointKey)) !== head) {
    if (service.child.exitCode !== null) throw new Error(`the projector exited with ${service.child.exitCode}`);
    if (Date.now() > deadline) throw new Error('the projector did not catch up within 15 minutes');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Votes from distinct voters on Zipf-drawn targets (as fillZipfLog), all in one transaction. */
async function fillOneTransaction(db: Kysely<Database>, projectId: string, events: number, targets: number): Promise<void> {
  await sql`
    insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
    select gen_random_uuid(), ${projectId}::uuid, 'votes',
           't' || (floor(exp(random() * ln(${targets}::float8))) - 1)::int, 'v' || i,
           1, 'VoteCast', case when random() < 0.7 then 1 else -1 end, 0, now()
    from generate_series(1, ${events}::int) as i
  `.execute(db);
}
