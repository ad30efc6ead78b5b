import { sql } from 'kysely';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createProjectorMetrics } from '../../src/projections/tallies/projector-metrics.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { verifyTallies } from '../../src/projections/operations/verify-tallies.js';
import { rebuildTallies } from '../../src/projections/operations/rebuild.js';
import { partitionOf, partitionsOf } from '../../src/projections/tallies/partitions.js';
import { PartitionCountMismatchError, Projector } from '../../src/projections/tallies/projector.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { type ProjectorProcess, projectorProcesses } from '../support/projector-processes.js';
import type { TestRedis } from '../support/redis.js';
import { redisVariants } from '../support/redis-cluster.js';
import { castRandomVotes, expectTalliesToMatchLog, testPolls } from '../support/votes.js';

const logger = pino({ level: 'silent' });
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(() => database.dispose());

const eventually = (check: () => unknown) => vi.waitFor(check, { timeout: 30_000, interval: 100 });

describe('a poll’s partition', () => {
  it('is the same in every process and version, and spreads polls evenly', () => {
    // Pinned: a changed hash would hand every poll to another partition's leader.
    expect([1, 2, 3, 4, 64].map((count) => partitionOf({ projectId: 'project', poll: 'likes' }, count))).toEqual([0, 0, 2, 2, 6]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i += 1) counts[partitionOf({ projectId: `p${i % 40}`, poll: `poll-${i}` }, 4)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(850);
  });
});

/** Projects whose polls land in every one of `count` partitions between them. */
async function projectsCoveringPartitions(count: number): Promise<string[]> {
  const projects: string[] = [];
  const covered = new Set<number>();
  while (covered.size < count) {
    const projectId = (await givenProjectWithPolls(database.db)).id;
    projects.push(projectId);
    for (const poll of Object.keys(testPolls)) covered.add(partitionOf({ projectId, poll }, count));
  }
  return projects;
}

/** How many partitions a process leads now, by its log. */
const partitionsLed = (p: ProjectorProcess) => {
  const output = p.output.join('');
  return output.split('projector leads a partition').length - output.split('projector let go of a partition').length;
};

describe.each(redisVariants)('partitioned projection on $name', ({ create }) => {
  let variant: TestRedis | undefined;
  beforeAll(async () => {
    variant = await create();
  });
  afterAll(() => variant?.dispose());

  const processes = projectorProcesses(() => ({ DATABASE_URL: database.url!, ...variant!.env, REDIS_KEY_PREFIX: `${variant!.prefix}_split`, PROJECTOR_PARTITIONS: '2' }));
  afterEach(() => processes.stopAll());

  it('two partitions over two projector processes share the work; when one is killed -9 the other takes its partition over, and every tally equals the log', { timeout: 120_000 }, async (context) => {
    if (database.url === undefined || variant === undefined) return context.skip();
    const redis = variant;
    const prefix = `${redis.prefix}_split`;
    const projects = await projectsCoveringPartitions(2);
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const store = await RedisTallyStore.open(redis.client, prefix, { partitions: 2 });
    const pair = [processes.start(), processes.start()];

    await eventually(() => expect(pair.map(partitionsLed)).toEqual([1, 1]));
    for (let round = 0; round < 5; round += 1) await Promise.all(projects.map((projectId) => castRandomVotes(appender, projectId, 60)));
    await eventually(async () => {
      for (const projectId of projects) await expectTalliesToMatchLog(database.db, store, projectId);
    });

    const [killed, survivor] = pair as [ProjectorProcess, ProjectorProcess];
    killed.child.kill('SIGKILL');
    for (let round = 0; round < 5; round += 1) await Promise.all(projects.map((projectId) => castRandomVotes(appender, projectId, 60)));

    await eventually(() => expect(partitionsLed(survivor)).toBe(2));
    await eventually(async () => {
      for (const projectId of projects) await expectTalliesToMatchLog(database.db, store, projectId);
    });
    const report = await verifyTallies(database.db, redis.client, prefix, { waitMs: 20_000 });
    expect({ behind: report.behind, differences: report.differences }).toEqual({ behind: undefined, differences: [] });
    await appender.close();
  });

  it('report each partition a process leads, and its lag, by partition in the metrics', async (context) => {
    if (variant === undefined) return context.skip();
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    for (const projectId of await projectsCoveringPartitions(2)) await castRandomVotes(appender, projectId, 60);
    await appender.close();
    const registry = new Registry();
    const metrics = createProjectorMetrics(registry);
    const store = await RedisTallyStore.open(variant.client, `${variant.prefix}_metrics`, { partitions: 2 });
    const stop = new AbortController();
    let epoch = Date.now();
    const leading = new Projector({ db: database.db, store, logger, metrics, batchSize: 50, pollIntervalMs: 50, partition: { index: 1, count: 2 } }).lead(async () => (epoch += 1), stop.signal);
    const sample = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map(({ labels, value }) => ({ labels, value }));
    await eventually(async () => expect(await sample('clickvote_projector_leading')).toEqual([{ labels: { partition: '1' }, value: 1 }]));
    await eventually(async () => expect((await sample('clickvote_projector_lag_seconds')).map(({ labels }) => labels)).toEqual([{ partition: '1' }]));
    // Events are counted by the partition that folds them, so the partitions' counts add up to the log.
    const { rows } = await sql<{ project_id: string; poll: string; events: number }>`select project_id, poll, count(*)::int as events from vote_events group by 1, 2`.execute(database.db);
    const own = rows.filter((row) => partitionOf({ projectId: row.project_id, poll: row.poll }, 2) === 1).reduce((sum, row) => sum + row.events, 0);
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThan(rows.reduce((sum, row) => sum + row.events, 0));
    await eventually(async () => expect(await sample('clickvote_projector_events_applied_total')).toEqual([{ labels: {}, value: own }]));
    stop.abort();
    await leading;
    expect(await sample('clickvote_projector_leading')).toEqual([{ labels: { partition: '1' }, value: 0 }]);
  });

  it('changing the partition count takes a rebuild: a projector of another count refuses the read model, and the rebuilt one is split as asked', { timeout: 120_000 }, async (context) => {
    if (variant === undefined) return context.skip();
    const redis = variant;
    const prefix = `${redis.prefix}_resplit`;
    const projects = await projectsCoveringPartitions(3);
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    for (const projectId of projects) await castRandomVotes(appender, projectId, 80);
    const store = await RedisTallyStore.open(redis.client, prefix);
    await new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50 }).catchUp();

    const split = (partition: { index: number; count: number }) => new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50, partition });
    await expect(split({ index: 0, count: 3 }).catchUp()).rejects.toThrow(PartitionCountMismatchError);

    await rebuildTallies({ db: database.db, redis: redis.client, prefix, logger, batchSize: 50, partitions: 3, unlinkAfterMs: 1000 });
    for (const projectId of projects) await castRandomVotes(appender, projectId, 80);
    await expect(new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50 }).catchUp()).rejects.toThrow(PartitionCountMismatchError);
    expect(store.partitions).toBe(3);
    const projectors = partitionsOf(3).map(split);
    // One catch-up stops below any transaction still running on the shared server: go on until the head.
    await eventually(async () => {
      for (const projector of projectors) await projector.catchUp();
      for (const projectId of projects) await expectTalliesToMatchLog(database.db, store, projectId);
      const report = await verifyTallies(database.db, redis.client, prefix);
      expect({ behind: report.behind, differences: report.differences }).toEqual({ behind: undefined, differences: [] });
    });
    await appender.close();
  });
});
