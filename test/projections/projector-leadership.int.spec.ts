import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { comparePositions, parsePosition } from '../../src/domain/position.js';
import { connectRedis } from '../../src/platform/redis.js';
import { PostgresLeadership } from '../../src/projections/tallies/leadership.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import type { WriteRefusedError } from '../../src/projections/tallies/tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { exitOf, projectorProcesses } from '../support/projector-processes.js';
import { createTestRedis, startPrivateRedisServer, type TestRedis } from '../support/redis.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

const logger = pino({ level: 'silent' });
let database: TestDatabase;
let redis: TestRedis | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
});

// Every test's projectors take the same database's lock: none may outlive its test.
afterEach(() => projectors.stopAll());

afterAll(async () => {
  await redis?.dispose();
  await database.dispose();
});

const projectors = projectorProcesses(() => ({ DATABASE_URL: database.url!, REDIS_URL: redis!.url, REDIS_KEY_PREFIX: redis!.prefix }));
const startProjectorProcess = projectors.start;

const leads = (p: { output: string[] }) => p.output.join('').includes('projector is the leader');

const eventually = (check: () => unknown) => vi.waitFor(check, { timeout: 20_000, interval: 100 });

describe('two projector processes on one log', () => {
  it('let one lead while the other waits, and the standby finishes when the leader is killed', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const store = await RedisTallyStore.open(redis!.client, redis!.prefix);
    const pair = [startProjectorProcess(), startProjectorProcess()];

    await eventually(() => expect(pair.filter(leads)).toHaveLength(1));
    for (let round = 0; round < 5; round += 1) await castRandomVotes(appender, projectId, 100);
    await eventually(() => expectTalliesToMatchLog(database.db, store, projectId));

    const leader = pair.find(leads)!;
    const standby = pair.find((p) => p !== leader)!;
    expect(leads(standby)).toBe(false);
    leader.child.kill('SIGKILL');
    for (let round = 0; round < 5; round += 1) await castRandomVotes(appender, projectId, 100);

    await eventually(() => expect(leads(standby)).toBe(true));
    await eventually(() => expectTalliesToMatchLog(database.db, store, projectId));
    await appender.close();
  });
});

describe('one writer at a time', () => {
  it('refuses the write of a leader deposed while it was paused', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const prefix = `${redis!.prefix}_deposed`;
    const stop = new AbortController();
    /** A term of leadership in which the projector claims the read model, then only does what the test says. */
    const leaderOn = async (leadership: PostgresLeadership) => {
      const store = await RedisTallyStore.open(redis!.client, prefix);
      const projector = new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50, tallyCacheSize: 100_000 });
      let claimed!: () => void;
      const claiming = new Promise<void>((resolve) => (claimed = resolve));
      const leading = leadership.lead(async (termEnded, nextEpoch) => {
        await projector.claim(nextEpoch, termEnded);
        claimed();
        // A paused process notices nothing: it holds on until the test ends, whatever befalls its term.
        await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
      }, stop.signal);
      await claiming;
      return { store, projector, leading };
    };
    const outcome = (work: Promise<number>) => work.then((events) => `applied ${events}`, (error: WriteRefusedError) => error.reason ?? String(error));
    const terms: Promise<void>[] = [];
    try {
      const old = await leaderOn(new PostgresLeadership(database.url!, logger));
      terms.push(old.leading);
      await castRandomVotes(appender, projectId, 100);
      await eventually(async () => {
        await old.projector.catchUp();
        await expectTalliesToMatchLog(database.db, old.store, projectId);
      });

      // The old leader's lock session ends while it is paused; a standby takes over.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'clickvote-projector' and datname = current_database()`.execute(database.db);
      const next = await leaderOn(new PostgresLeadership(database.url!, logger));
      terms.push(next.leading);
      const checkpoint = await next.store.readCheckpoint();
      await castRandomVotes(appender, projectId, 50);
      // Waking up with a batch in hand, the old leader tries to write it.
      await eventually(async () => expect(await outcome(old.projector.catchUp())).toBe('deposed'));
      expect(await next.store.readCheckpoint()).toBe(checkpoint);

      await eventually(async () => {
        await next.projector.catchUp();
        await expectTalliesToMatchLog(database.db, next.store, projectId);
      });
    } finally {
      stop.abort();
      await Promise.all([...terms, appender.close()]);
    }
  });

  it('hands over on SIGTERM mid catch-up without the checkpoint ever moving backwards', async (context) => {
    const server = await startPrivateRedisServer();
    if (database.url === undefined || server === undefined) context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const client = await connectRedis(server!.url);
    const monitor = await connectRedis(server!.url);
    // Every checkpoint write, in the order Redis executed them, scripts included.
    const written: string[] = [];
    await monitor.monitor((line) => {
      const set = /"SET" "[^"]*:checkpoint" "([^"]+)"/i.exec(String(line));
      if (set !== null) written.push(set[1]!);
    });
    try {
      // Votes spread over many targets, so consecutive batches write different tallies.
      const targets = 300;
      for (let round = 0; round < 3; round += 1) await castRandomVotes(appender, projectId, 200, targets);
      // Small batches: the leader is still catching up with the backlog when it is told to stop.
      const settings = { REDIS_URL: server!.url, REDIS_KEY_PREFIX: 'cv', PROJECTOR_BATCH_SIZE: '10' };
      const pair = [startProjectorProcess(settings), startProjectorProcess(settings)];
      await eventually(() => expect(pair.filter(leads)).toHaveLength(1));
      const leader = pair.find(leads)!;
      const standby = pair.find((p) => p !== leader)!;
      await eventually(() => expect(written.length).toBeGreaterThan(5));
      leader.child.kill('SIGTERM');
      await castRandomVotes(appender, projectId, 200, targets);

      expect(await exitOf(leader.child)).toBe(0);
      // It stopped writing before it let go of the lock: nothing it wrote was refused.
      expect(leader.output.join('')).not.toMatch(/refused a write|batch failed/);
      await eventually(() => expect(leads(standby)).toBe(true));
      const store = await RedisTallyStore.open(client, 'cv');
      await eventually(() => expectTalliesToMatchLog(database.db, store, projectId, targets));
      const backwards = written.filter((checkpoint, i) => i > 0 && comparePositions(parsePosition(checkpoint)!, parsePosition(written[i - 1]!)!) <= 0);
      expect(backwards).toEqual([]);
      expect(written.length).toBeGreaterThan(10);
    } finally {
      await appender.close();
      monitor.destroy();
      await client.quit();
      await server!.stop();
    }
  });
});
