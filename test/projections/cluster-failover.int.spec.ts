import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { connectDuplicate, connectRedis, type RedisCluster } from '../../src/platform/redis.js';
import { RedisTallyFeed } from '../../src/projections/realtime/tally-feed.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { canStartRedisCluster, type LocalRedisCluster, startRedisCluster } from '../support/redis-cluster.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

/**
 * A Redis Cluster of three masters, each with a replica, loses a master while votes arrive and
 * readers read: a replica takes over, the service follows it, and every tally ends equal to the log.
 */
const logger = pino({ level: 'silent' });
let database: TestDatabase;
let cluster: LocalRedisCluster | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  if (canStartRedisCluster()) cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
});

afterAll(async () => {
  await cluster?.stop();
  await database.dispose();
});

describe('a Redis Cluster losing a master under load', () => {
  it('follows the replica that takes over, and every tally ends equal to the log', { timeout: 120_000 }, async (context) => {
    if (cluster === undefined) return context.skip();
    const redis = (await connectRedis({ clusterNodes: cluster.nodes.slice(0, 3).map((node) => node.address) })) as RedisCluster;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const prefix = 'cv';
    const projects = await Promise.all([1, 2, 3].map(async () => (await givenProjectWithPolls(database.db)).id));
    const store = await RedisTallyStore.open(redis, prefix, { replicasToAcknowledge: 1 });
    let killedAt: number | undefined;
    let healedAt: number | undefined;
    const channel = RedisKeys.channelOf(prefix);
    const feed = new RedisTallyFeed(redis, channel);
    const projector = new Projector({ db: database.db, store, feed, logger, batchSize: 200, pollIntervalMs: 50, tallyCacheSize: 10_000 });
    // A subscriber as an API replica's feed opens it; it listens on one node, the one killed below.
    const subscriber = (await connectDuplicate(redis)) as RedisCluster;
    const announced = { before: 0, after: 0 };
    await subscriber.subscribe(channel, () => (healedAt === undefined ? (announced.before += 1) : (announced.after += 1)));
    const stop = new AbortController();
    const projecting = projector.run(stop.signal);
    const reader = await RedisTallyStore.open(redis, prefix);

    let voting = true;
    const voter = async () => {
      while (voting) for (const projectId of projects) await castRandomVotes(appender, projectId, 5);
    };
    const reads = { before: 0, failed: 0, after: 0 };
        let reading = true;
    const readerLoop = async () => {
      while (reading) {
        const outcomes = await Promise.allSettled(projects.map((projectId) => reader.readTallies({ projectId, poll: 'votes' }, ['t0', 't1', 't2'])));
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') reads.failed += 1;
          else if (healedAt !== undefined) reads.after += 1;
          else if (killedAt === undefined) reads.before += 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const load = Promise.all([voter(), voter(), readerLoop()]);
    try {
      await vi.waitFor(() => expect(reads.before).toBeGreaterThan(50), { timeout: 20_000, interval: 50 });
      // The subscriber's node: a master, so a third of the slots' writes and reads move to its replica too.
      const victim = Number(subscriber.pubSubNode!.address.split(':').at(-1));
      killedAt = performance.now();
      await cluster.kill(victim);
      await cluster.waitUntilHealthy();
      healedAt = performance.now();
      await vi.waitFor(() => expect(reads.after).toBeGreaterThan(100), { timeout: 20_000, interval: 50 });
      // The promoted master has no replica to acknowledge its writes, so the checkpoint waits for
      // one, as an operator's restarted node provides: it comes back empty and syncs from it.
      await cluster.restart(victim);
      await vi.waitFor(() => expect(announced.after).toBeGreaterThan(5), { timeout: 30_000, interval: 50 });
      console.info(`failover: master ${victim} killed, cluster healthy after ${Math.round(healedAt - killedAt)} ms; reads ${JSON.stringify(reads)}; feed messages ${JSON.stringify(announced)}`);
    } finally {
      voting = false;
      reading = false;
      await load;
    }
    const failedBeforeQuiet = reads.failed;
    for (const projectId of projects) await vi.waitFor(() => expectTalliesToMatchLog(database.db, reader, projectId), { timeout: 20_000, interval: 200 });
    const afterFailover = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => reader.readTallies({ projectId: projects[i % 3]!, poll: 'stars' }, ['t0'])));
    expect(afterFailover.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(100);
    expect(reads.failed).toBe(failedBeforeQuiet);
    stop.abort();
    await projecting;
    await appender.close();
    subscriber.destroy();
    redis.destroy();
  });
});
