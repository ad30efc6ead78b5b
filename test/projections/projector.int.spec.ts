import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { emptyTally, type Tally } from '../../src/domain/tally.js';
import { recomputeTallies } from '../../src/projections/log-queries/recompute-tallies.js';
import { InProcessTallyFeed } from '../../src/projections/realtime/tally-feed.js';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import type { PollChange } from '../../src/projections/tallies/tally-projection.js';
import type { CheckpointMove, TallyStore } from '../../src/projections/tallies/tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import type { TestRedis } from '../support/redis.js';
import { redisVariants } from '../support/redis-cluster.js';
import { overriding } from '../support/tally-stores.js';
import { castRandomVotes, expectTalliesToMatchLog, projectToHead } from '../support/votes.js';

const logger = pino({ level: 'silent' });
let database: TestDatabase;
let redis: TestRedis | undefined;
let appender: VoteAppender;
let projectId: string;
let store: TallyStore;
let generation = 0;

/** Each test gets its own store: a fresh key prefix on Redis, or a fresh in-process one. */
async function freshStore(): Promise<TallyStore> {
  generation += 1;
  return redis === undefined ? new MemoryTallyStore() : RedisTallyStore.open(redis.client, `${redis.prefix}:${generation}`);
}

const projectorOn = (target: TallyStore, batchSize = 100) => new Projector({ db: database.db, store: target, logger, batchSize, pollIntervalMs: 50 });

beforeAll(async () => {
  database = await createTestDatabase();
  appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 3 });
});

beforeEach(async () => {
  projectId = (await givenProjectWithPolls(database.db)).id;
  store = await freshStore();
});

afterAll(async () => {
  await appender.close();
  await database.dispose();
});

describe.each(redisVariants)('the projector on $name', ({ create }) => {
  beforeAll(async () => {
    redis = await create();
    if (redis === undefined) console.warn('*** projector tests run on the in-process store: no Redis ***');
  });

  afterAll(() => redis?.dispose());

  it('folds the log into tallies equal to the SQL recomputation', async () => {
    await castRandomVotes(appender, projectId, 300);
    await projectToHead(database.db, projectorOn(store, 37), store);
    await expectTalliesToMatchLog(database.db, store, projectId);
  });

  it('should be idempotent if run twice', async () => {
    await castRandomVotes(appender, projectId, 200);
    await projectToHead(database.db, projectorOn(store, 50), store);
    const before = await store.readTallies({ projectId, poll: 'votes' }, ['t0', 't1', 't2']);
    // A second projector that lost the global checkpoint replays everything from the start.
    const replay = projectorOn(withoutCheckpoint(store), 23);
    await projectToHead(database.db, replay, store);
    expect(await store.readTallies({ projectId, poll: 'votes' }, ['t0', 't1', 't2'])).toEqual(before);
    await expectTalliesToMatchLog(database.db, store, projectId);
  });

  it('announces on the feed the latest tally of every target it changed, in every poll, once caught up', async () => {
    await castRandomVotes(appender, projectId, 300);
    const latest = new Map<string, Tally>();
    const feed = new InProcessTallyFeed();
    // The projector folds the whole log, the projects of earlier tests too.
    await feed.subscribe(({ updates }) => updates.forEach((update) => update.projectId === projectId && latest.set(`${update.poll}/${update.target}`, update.tally)));
    // Batches of 20 come back full: far behind, the projector holds tallies back and announces the latest of each.
    await projectToHead(database.db, new Projector({ db: database.db, store, logger, batchSize: 20, pollIntervalMs: 50, feed }), store);
    const expected = new Map([...(await recomputeTallies(database.db, projectId)).values()].map(({ key, tally }) => [`${key.poll}/${key.target}`, tally]));
    expect([...expected.keys()].filter((key) => !latest.has(key))).toEqual([]);
    // A tally whose every ballot was retracted is announced at zero; the recomputation leaves it out.
    expect(Object.fromEntries(latest)).toEqual(Object.fromEntries([...latest.keys()].map((key) => [key, expected.get(key) ?? emptyTally])));
  });

  it('never skips an event whose transaction commits after a later position', async (context) => {
    if (database.url === undefined) context.skip('PGlite has one session: no concurrent transactions');
    const [early, late] = [new pg.Client({ connectionString: database.url }), new pg.Client({ connectionString: database.url })];
    await Promise.all([early.connect(), late.connect()]);
    const insert = (client: pg.Client, voter: string) =>
      client.query(
        `insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
         values ($1, $2, 'likes', 'late-commit', $3, 1, 'VoteCast', 1, 0, now())`,
        [randomUUID(), projectId, voter],
      );
    const tally = async () => (await store.readTallies({ projectId, poll: 'likes' }, ['late-commit']))[0]!.tally.count;
    try {
      await early.query('begin');
      await insert(early, 'a'); // takes the earlier position and stays open
      await insert(late, 'b'); // a later position, committed at once
      const projector = projectorOn(store, 10);
      await projector.catchUp();
      expect(await tally()).toBe(0); // b waits behind the open transaction instead of overtaking it
      await early.query('commit');
      await projectToHead(database.db, projector, store);
      expect(await tally()).toBe(2);
    } finally {
      await Promise.all([early.end(), late.end()]);
    }
  });

  it('ends with exact tallies when it died after writing some polls of a batch, before the checkpoint moved', async () => {
    await castRandomVotes(appender, projectId, 120);
    let died = false;
    const dying = overriding(store, {
      applyChanges: async (changes, move) => {
        if (changes.length < 2) return store.applyChanges(changes, move);
        await applySome(store, changes.slice(0, changes.length - 1), move.from);
        died = true;
        throw new Error('simulated crash');
      },
    });
    await expect(projectorOn(dying, 500).catchUp()).rejects.toThrow('simulated crash');
    expect(died).toBe(true);
    expect(await store.readCheckpoint()).toBeUndefined();
    await projectToHead(database.db, projectorOn(store, 500), store);
    await expectTalliesToMatchLog(database.db, store, projectId);
  });

  it('ends with exact tallies after crashes at random points over 25 rounds', async () => {
    for (let round = 0; round < 25; round += 1) {
      await castRandomVotes(appender, projectId, 20 + Math.floor(Math.random() * 150));
      for (let attempt = 0; ; attempt += 1) {
        const crashing = crashingAtRandom(store);
        try {
          await projectorOn(crashing.store, 1 + Math.floor(Math.random() * 60)).catchUp();
          if (!crashing.crashed) break;
        } catch (error) {
          if (!crashing.crashed) throw error;
        }
        expect(attempt).toBeLessThan(200);
      }
      // A transaction another test file holds open may have stopped that pass short of the head.
      await projectToHead(database.db, projectorOn(store, 60), store);
      await expectTalliesToMatchLog(database.db, store, projectId);
    }
  });
});

/**
 * The same store, but reporting no checkpoint: the projector starts from the first event. Its
 * first write says it builds on the checkpoint the store holds, so the store takes it.
 */
function withoutCheckpoint(inner: TallyStore): TallyStore {
  let replaying = true;
  return overriding(inner, {
    applyChanges: async (changes, move) => {
      const from = replaying ? await inner.readCheckpoint() : move.from;
      replaying = false;
      await inner.applyChanges(changes, { from, to: move.to });
    },
    readCheckpoint: async () => (replaying ? undefined : inner.readCheckpoint()),
  });
}

/**
 * The store, but the process "dies" now and then: after writing only some polls, after all
 * polls but before the checkpoint, or after the checkpoint. Each poll's own write stays whole,
 * as one Lua script does in Redis.
 */
function crashingAtRandom(inner: TallyStore): { store: TallyStore; crashed: boolean } {
  const state = { crashed: false, store: inner };
  const crash = () => {
    state.crashed = true;
    throw new Error('simulated crash');
  };
  state.store = overriding(inner, {
    applyChanges: async (changes: readonly PollChange[], move: CheckpointMove) => {
      if (state.crashed) crash();
      const dice = Math.random();
      if (dice < 0.3) {
        await applySome(inner, changes.slice(0, Math.floor(Math.random() * changes.length)), move.from);
        crash();
      }
      if (dice < 0.45) {
        await applySome(inner, changes, move.from);
        crash();
      }
      await inner.applyChanges(changes, move);
      if (dice < 0.6) crash();
    },
  });
  return state;
}

/** Writes the polls' changes without moving the projection's checkpoint. */
async function applySome(inner: TallyStore, changes: readonly PollChange[], from: string | undefined): Promise<void> {
  if (inner instanceof RedisTallyStore) return inner.applyPolls(changes, from);
  if (inner instanceof MemoryTallyStore) return inner.applyPolls(changes);
  throw new Error('a store of an unknown kind');
}
