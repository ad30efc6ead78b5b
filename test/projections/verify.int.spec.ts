import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { verifyTallies } from '../../src/projections/operations/verify-tallies.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import type { TestRedis } from '../support/redis.js';
import { redisVariants } from '../support/redis-cluster.js';
import { castRandomVotes } from '../support/votes.js';

const logger = pino({ level: 'silent' });
let database: TestDatabase;
let redis: TestRedis | undefined;
let appender: VoteAppender;

beforeAll(async () => {
  database = await createTestDatabase();
  appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
});

afterAll(async () => {
  await appender.close();
  await database.dispose();
});

describe.each(redisVariants)('npm run verify checks the whole log on $name', ({ create }) => {
  beforeAll(async () => {
    redis = await create();
  });

  afterAll(() => redis?.dispose());

  it('reports a read model that misses events as behind, waits for it to catch up, and fails one that is wrong', { timeout: 180_000 }, async (context) => {
    if (database.url === undefined || redis === undefined) return context.skip();
    const prefix = `${redis.prefix}_verify`;
    const env = { DATABASE_URL: database.url, ...redis.env, REDIS_KEY_PREFIX: prefix };
    const projectId = (await givenProjectWithPolls(database.db)).id;
    await castRandomVotes(appender, projectId, 120);
    const store = await RedisTallyStore.open(redis.client, prefix);
    const projector = new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50 });
    await projector.catchUp();

    // No projector runs while these arrive: the tallies it holds are right, but not all of them.
    await castRandomVotes(appender, projectId, 60);
    const behind = await verifyTallies(database.db, redis.client, prefix, { waitMs: 0 });
    expect(behind.differences).toEqual([]);
    // heldBackBy is not asserted: on a shared server another test file's transaction may hold it back too.
    expect(behind.behind).toMatchObject({ events: expect.any(Number) });
    expect(behind.behind!.events).toBeGreaterThan(0);
    const cli = await runCli('src/projections/operations/verify-cli.ts', env, { args: ['--wait', '0'] });
    expect(cli).toMatchObject({ code: 3, stdout: expect.stringContaining('the read model is behind the log') });
    // Names the cause: no projector, or (on a shared server) another file's open transaction.
    expect(cli.stdout).toMatch(/is a projector running\?|held back by/);

    const stop = new AbortController();
    const running = projector.run(stop.signal);
    try {
      expect(await runCli('src/projections/operations/verify-cli.ts', env, { args: ['--wait', '60'] })).toMatchObject({ code: 0, stdout: expect.stringContaining('match the log') });
    } finally {
      stop.abort();
      await running;
    }

    await redis.client.hSet(new RedisKeys(prefix, 1).tally({ projectId, poll: 'votes', target: 't1' }), 'count', '999');
    await castRandomVotes(appender, projectId, 20);
    const wrong = await runCli('src/projections/operations/verify-cli.ts', env, { args: ['--wait', '0'] });
    expect(wrong).toMatchObject({ code: 1, stdout: expect.stringContaining(`project ${projectId} poll "votes" target "t1"`) });
    expect(wrong.stdout).toContain('It is also behind the log');
  });
});
