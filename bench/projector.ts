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
  rows.push(await benchPartitions());
  return rows;
}

async function benchCatchUp(scenario: CatchUpScenario): Promise<BenchRow> {
  const batchSize = envNumber('PROJECTOR_BATCH_SIZE', 10_000);
  return onFilledLog(['votes'], scenario.fill, async (log) => {
    const baseline = await timed(async () => {
      let after;
      for (let events = await readEventsAfter(log.db, after, batchSize); events.length > 0; events = await readEventsAfter(log.db, after, batchSize)) {
        after = events.at(-1)!.position;
      }
    });
    const { seconds: ours, start, peak } = await timeCatchUp(log, log.prefix, { processes: 1, partitions: 1, batchSize });
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
  });
}

/**
 * Scale-out: the same log, of votes going round 8 polls, caught up by one projector process and
 * then by two processes sharing two partitions (PROJECTOR_PARTITIONS=2). Both include process start.
 */
async function benchPartitions(): Promise<BenchRow> {
  const events = envNumber('BENCH_PARTITION_EVENTS', 400_000);
  const targets = envNumber('BENCH_PROJECTOR_TARGETS', 100_000);
  const polls = Array.from({ length: 8 }, (_, poll) => `votes-${poll}`);
  const batchSize = envNumber('PROJECTOR_BATCH_SIZE', 10_000);
  const fill = (db: Kysely<Database>, projectId: string) => fillZipfLog(db, projectId, events, targets, 'votes', polls.length);
  return onFilledLog(polls, fill, async (log) => {
    const one = await timeCatchUp(log, `${log.prefix}_1`, { processes: 1, partitions: 1, batchSize });
    const two = await timeCatchUp(log, `${log.prefix}_2`, { processes: 2, partitions: 2, batchSize });
    const [oneRate, twoRate] = [events / one.seconds, events / two.seconds];
    return {
      scenario: `projector catch-up, 2 partitions over 2 processes, ${events.toLocaleString('en-US')} events over ${polls.length} polls`,
      ours: `${perSecond(twoRate)} (each partition folds its half)`,
      baseline: `${perSecond(oneRate)} (one process, same log)`,
      ratio: twoRate / oneRate,
      target: 'scale-out, measured (no target)',
      met: null,
      peakRssMb: { 'each partition process': two.peak, 'one process': one.peak },
      figures: { events, polls: polls.length, batchSize, onePerSecond: oneRate, twoPerSecond: twoRate },
    };
  });
}

interface FilledLog {
  readonly db: Kysely<Database>;
  readonly url: string;
  readonly redis: RedisClient;
  /** Redis keys under it, and under prefixes made from it with "_", are deleted afterwards. */
  readonly prefix: string;
}

/** A bench database of its own with one project and its updown `polls`, filled and analyzed, for `work`; gone afterwards, with its Redis keys. */
async function onFilledLog<T>(polls: readonly string[], fill: (db: Kysely<Database>, projectId: string) => Promise<void>, work: (log: FilledLog) => Promise<T>): Promise<T> {
  const database = await createBenchDatabase(4);
  const redis = await connectRedis(benchRedisUrl);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  try {
    const project = await createProject(database.db, 'bench');
    for (const name of polls) await definePoll(database.db, { projectId: project.id, name, kind: 'updown' });
    await fill(database.db, project.id);
    await sql`analyze vote_events`.execute(database.db);
    return await work({ db: database.db, url: database.url, redis, prefix });
  } finally {
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    await database.dispose();
  }
}

/** Starts projector processes on the log and times them until every partition's checkpoint is the log's head. */
async function timeCatchUp(
  { db, url, redis }: FilledLog,
  prefix: string,
  { processes, partitions, batchSize }: { processes: number; partitions: number; batchSize: number },
): Promise<{ seconds: number; start: number; peak: number }> {
  const head = formatPosition((await readLogHead(db))!.position);
  const services: RunningService[] = [];
  const env = { ROLE: 'projector', DATABASE_URL: url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix, PROJECTOR_BATCH_SIZE: String(batchSize), PROJECTOR_PARTITIONS: String(partitions) };
  let start = 0;
  try {
    const seconds = await timed(async () => {
      start = await timed(async () => services.push(...(await Promise.all(Array.from({ length: processes }, () => startService(env))))));
      await waitForCheckpoints(redis, new RedisKeys(prefix, 1, partitions).checkpoints(), head, services);
    });
    return { seconds, start, peak: Math.max(...services.map((service) => service.peakRssMb())) };
  } finally {
    for (const service of services) await service.stop();
  }
}

async function waitForCheckpoints(redis: RedisClient, checkpointKeys: readonly string[], head: string, services: readonly RunningService[]): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  const atHead = async () => (await Promise.all(checkpointKeys.map((key) => redis.get(key)))).every((checkpoint) => checkpoint === head);
  while (!(await atHead())) {
    const exited = services.find((service) => service.child.exitCode !== null);
    if (exited !== undefined) throw new Error(`a projector exited with ${exited.child.exitCode}`);
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
