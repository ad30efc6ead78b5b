import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { connectRedis, type SingleRedis } from '../../src/platform/redis.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { type PrivateRedisServer, startPrivateRedisServer } from '../support/redis.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

/**
 * Redis loses acknowledged writes: a FLUSHALL, or a restart from older data (AOF `everysec`, a
 * promoted lagging replica). These run on a redis-server of their own, so flushing is safe.
 */
const logger = pino({ level: 'silent' });
let database: TestDatabase;
let server: PrivateRedisServer | undefined;
let redis: SingleRedis;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startPrivateRedisServer();
  if (server !== undefined) redis = await connectRedis(server.url);
});

afterAll(async () => {
  await redis?.quit().catch(() => redis.destroy());
  await server?.stop();
  await database.dispose();
});

const eventually = (check: () => unknown) => vi.waitFor(check, { timeout: 20_000, interval: 100 });

/** The live projector as production runs it (tally cache on), with votes waking it up. */
async function givenLiveProjection() {
  const projectId = (await givenProjectWithPolls(database.db)).id;
  const prefix = `cv${projectId.slice(0, 8)}`;
  const store = await RedisTallyStore.open(redis, prefix);
  const projector = new Projector({ db: database.db, store, logger, batchSize: 40, pollIntervalMs: 50, tallyCacheSize: 100_000 });
  const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2, onBatchAppended: () => projector.wake() });
  const stop = new AbortController();
  const running = projector.run(stop.signal);
  /** Rounds of random votes on t0..t4, a few at a time, as they arrive in production. */
  const votesArrive = async (rounds: number) => {
    for (let round = 0; round < rounds; round += 1) {
      await castRandomVotes(appender, projectId, 10, 5);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const close = async () => {
    stop.abort();
    await running;
    await appender.close();
  };
  return { projectId, store, appender, votesArrive, close };
}

describe('a projector whose Redis loses data', () => {
  it('notices a FLUSHALL and converges, even when the next batch touches only a new target', async (context) => {
    if (server === undefined) context.skip();
    const live = await givenLiveProjection();
    await live.votesArrive(20);
    await eventually(() => expectTalliesToMatchLog(database.db, live.store, live.projectId));

    await redis.flushAll();
    // The first batch after the loss holds no tally the projector has cached.
    await castVote(live.appender, { projectId: live.projectId, poll: 'likes', target: 't5', voter: 'new', value: 1 });
    await eventually(async () => expect(await live.store.readCheckpoint()).toBeDefined());
    await live.votesArrive(20);

    await eventually(() => expectTalliesToMatchLog(database.db, live.store, live.projectId, 6));
    await live.close();
  });

  it('notices Redis going back to older data (a failover to a lagging replica) and converges while votes arrive', async (context) => {
    if (server === undefined) context.skip();
    const live = await givenLiveProjection();
    await live.votesArrive(10);
    await eventually(() => expectTalliesToMatchLog(database.db, live.store, live.projectId));
    await redis.sendCommand(['SAVE']);
    await live.votesArrive(10);
    await eventually(() => expectTalliesToMatchLog(database.db, live.store, live.projectId));

    // Redis holds its snapshot again, every write after the SAVE gone, and no connection dropped:
    // as after a failover to a lagging replica.
    await redis.sendCommand(['DEBUG', 'RELOAD', 'NOSAVE']);
    await castVote(live.appender, { projectId: live.projectId, poll: 'stars', target: 't5', voter: 'new', value: 4 });
    await live.votesArrive(20);

    await eventually(() => expectTalliesToMatchLog(database.db, live.store, live.projectId, 6));
    await live.close();
  });
});
