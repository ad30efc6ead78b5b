import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { comparePositions, parsePosition } from '../../src/domain/position.js';
import { committedUpTo } from '../../src/platform/log-order.js';
import type { RedisClient } from '../../src/platform/redis.js';
import { beginRebuild, type RebuildOptions, type RebuildProgress, RebuildInProgressError, rebuildTallies } from '../../src/projections/operations/rebuild.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { liveGeneration, RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { verifyTallies } from '../../src/projections/operations/verify-tallies.js';
import { scanKeys, sendKeyedCommand } from '../../src/platform/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls } from '../support/fixtures.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';
import { redisVariants } from '../support/redis-cluster.js';
import { overriding } from '../support/tally-stores.js';
import { castRandomVotes, expectTalliesToMatchLog, projectToHead } from '../support/votes.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const logger = pino({ level: 'silent' });
let database: TestDatabase;
let redis: TestRedis | undefined;
let appender: VoteAppender;
let prefixes = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 3 });
});

afterAll(async () => {
  await appender.close();
  await database.dispose();
});

/** A fresh read model for one test: its own key prefix, with the log projected into it. */
async function givenProjectedReadModel(votes: number) {
  const prefix = `${redis!.prefix}_${(prefixes += 1)}`;
  const projectId = (await givenProjectWithPolls(database.db)).id;
  await castRandomVotes(appender, projectId, votes);
  return { prefix, projectId, store: await projectLiveToHead(prefix) };
}

/** The live generation, projected event by event up to the head of the log. */
async function projectLiveToHead(prefix: string) {
  const store = await RedisTallyStore.open(redis!.client, prefix);
  await projectToHead(database.db, new Projector({ db: database.db, store, logger, batchSize: 50, pollIntervalMs: 50 }), store);
  return store;
}

const rebuild = (prefix: string, options: Partial<RebuildOptions> = {}) =>
  rebuildTallies({ db: database.db, redis: redis!.client, prefix, logger, batchSize: 40, unlinkAfterMs: 1000, ...options });

describe.each(redisVariants)('tally rebuild and verify on $name', ({ create }) => {
  beforeAll(async () => {
    redis = await create();
  });

  afterAll(() => redis?.dispose());

  it('verify names a tally changed by hand, replay repairs it, verify passes (the CLIs)', { timeout: 180_000 }, async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(150);
    const env = { ...process.env, DATABASE_URL: database.url, ...redis!.env, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent' };
    const cli = (script: string) => run(process.execPath, ['--import', 'tsx', script], { cwd: root, env }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(await cli('src/projections/operations/verify-cli.ts')).toMatchObject({ code: 0, stdout: expect.stringContaining('match the log') });

    const tampered = new RedisKeys(prefix, 1).tally({ projectId, poll: 'votes', target: 't1' });
    await redis!.client.hSet(tampered, 'count', '999');
    const failed = await cli('src/projections/operations/verify-cli.ts');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`project ${projectId} poll "votes" target "t1"`);

    const replay = await cli('src/projections/operations/replay-cli.ts');
    expect(replay).toMatchObject({ code: 0, stdout: expect.stringContaining('Generation 2 is live') });
    expect(await cli('src/projections/operations/verify-cli.ts')).toMatchObject({ code: 0 });
    expect(await redis!.client.exists(tampered)).toBe(0);
  });

  it('keeps readers on whole tallies while 200 votes arrive during the rebuild', async (context) => {
    if (redis === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(100);
    const live = await RedisTallyStore.open(redis!.client, prefix);
    const projector = new Projector({ db: database.db, store: live, logger, batchSize: 50, pollIntervalMs: 20, tallyCacheSize: 1000 });
    const stop = new AbortController();
    const projecting = projector.run(stop.signal);
    const reader = await RedisTallyStore.open(redis!.client, prefix);
    const targets = ['r0', 'r1', 'r2', 'r3'];
    let reading = true;
    let reads = 0;
    const readerLoop = (async () => {
      const seen = new Map<string, number>();
      while (reading) {
        const tallies = await reader.readTallies({ projectId, poll: 'likes' }, targets);
        tallies.forEach(({ tally }, i) => {
          // Only new likes arrive, so a count that went down would be a half-built generation.
          expect(tally.count).toBeGreaterThanOrEqual(seen.get(targets[i]!) ?? 0);
          seen.set(targets[i]!, tally.count);
        });
        reads += 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const votes = Promise.all(
      Array.from({ length: 200 }, (_, i) => castVote(appender, { projectId, poll: 'likes', target: targets[i % 4]!, voter: `fan-${i}`, value: 1 })),
    );
    const [result] = await Promise.all([rebuild(prefix), votes]);
    expect(result.generation).toBe(2);
    projector.wake();
    await result.oldGenerationUnlinked;
    reading = false;
    await readerLoop;
    stop.abort();
    await projecting;
    expect(reads).toBeGreaterThan(10);
    expect(await liveGeneration(redis!.client, prefix)).toBe(2);
    await expectTalliesToMatchLog(database.db, await RedisTallyStore.open(redis!.client, prefix), projectId);
    expect((await verifyTallies(database.db, redis!.client, prefix)).differences).toEqual([]);
  });

  it('never leaks a generation over 10 rebuilds in a row under steady votes', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(100);
    // The live projector in a process of its own, as deployed, woken by NOTIFY after each append.
    const projector = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ROLE: 'projector', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, ...redis!.env, REDIS_KEY_PREFIX: prefix, PROJECTOR_POLL_INTERVAL_MS: '50', PROJECTOR_BATCH_SIZE: '50', LOG_LEVEL: 'info' },
    });
    let output = '';
    projector.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const live = await RedisTallyStore.open(redis!.client, prefix);
    let voting = true;
    const voter = async () => {
      while (voting) await castRandomVotes(appender, projectId, 8);
    };
    try {
      await vi.waitFor(() => expect(output).toContain('projector is the leader'), { timeout: 20_000, interval: 100 });
      const votes = Promise.all([voter(), voter(), voter()]);
      const unlinked: Promise<number>[] = [];
      try {
        for (let round = 0; round < 10; round += 1) {
          const result = await rebuild(prefix);
          expect(result.generation).toBe(round + 2);
          unlinked.push(result.oldGenerationUnlinked);
        }
      } finally {
        voting = false;
        await votes;
        await Promise.all(unlinked);
      }
      await vi.waitFor(() => expectTalliesToMatchLog(database.db, live, projectId), { timeout: 20_000, interval: 100 });
    } finally {
      projector.kill('SIGKILL');
    }

    expect(await liveGeneration(redis!.client, prefix)).toBe(11);
    const left: string[] = [];
    for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
      for await (const keys of scanKeys(redis!.client, pattern)) left.push(...keys);
    }
    const stray = left.filter((key) => !key.startsWith(`${prefix}:11:`) && key !== new RedisKeys(prefix, 11).checkpoint() && !/:(generation|leader-epoch)$/.test(key));
    expect(stray).toEqual([]);
    expect((await verifyTallies(database.db, redis!.client, prefix)).differences).toEqual([]);
  });

  it('leaves readers on the old generation when a rebuild dies, and completes when run again', async (context) => {
    if (redis === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(200);
    // A rebuild that died half way: its generation holds part of the log and its state says so.
    const half = RedisTallyStore.forRebuild(redis!.client, prefix, 2, 1);
    let batches = 0;
    const dying = overriding(half, {
      applyChanges: async (changes, move) => {
        if ((batches += 1) > 2) throw new Error('killed');
        await half.applyChanges(changes, move);
      },
    });
    await redis!.client.hSet(RedisKeys.rebuildStateKey(prefix), { generation: '2', status: 'rebuilding' });
    await expect(new Projector({ db: database.db, store: dying, logger, batchSize: 20, pollIntervalMs: 50 }).catchUp()).rejects.toThrow('killed');
    expect(await liveGeneration(redis!.client, prefix)).toBe(1);
    await expectTalliesToMatchLog(database.db, await RedisTallyStore.open(redis!.client, prefix), projectId);

    const resumed = await rebuild(prefix);
    expect(resumed.generation).toBe(2);
    expect(resumed.eventsDone).toBeLessThan(resumed.eventsTotal);
    await expectTalliesToMatchLog(database.db, await RedisTallyStore.open(redis!.client, prefix), projectId);
  });

  it('runs one rebuild at a time', async (context) => {
    if (redis === undefined) context.skip();
    const { prefix } = await givenProjectedReadModel(20);
    await redis!.client.set(RedisKeys.rebuildLockKey(prefix), 'someone-else', { expiration: { type: 'PX', value: 5000 } });
    await expect(beginRebuild({ db: database.db, redis: redis!.client, prefix, logger, batchSize: 10 })).rejects.toBeInstanceOf(RebuildInProgressError);
  });
});

/**
 * Every key of a generation and what it holds, byte for byte as Redis answers (rank scores as
 * Redis prints them), by name without the generation. A poll's meta is compared without its
 * checkpoint, which says only how far the poll is known to be folded: the event-by-event
 * projector leaves the poll's own last event there, the bulk load the checkpoint it loaded to.
 */
async function dumpGeneration(client: RedisClient, prefix: string, generation: number) {
  const base = `${prefix}:${generation}:`;
  const dump: Record<string, unknown> = {};
  for await (const names of scanKeys(client, `${base}*`)) {
    for (const name of names) {
      const type = await client.type(name);
      const key = `${type} ${name.slice(base.length)}`;
      if (type === 'zset') dump[key] = await sendKeyedCommand(client, name, ['ZRANGE', name, '0', '-1', 'WITHSCORES']);
      else if (name.endsWith(':meta')) {
        const { checkpoint, ...meta } = await client.hGetAll(name);
        dump[key] = { ...meta, checkpoint: parsePosition(checkpoint ?? '') === undefined ? 'missing' : 'present' };
      } else dump[key] = await client.hGetAll(name);
    }
  }
  return dump;
}

async function expectSameGenerations(prefix: string, projected: number, rebuilt: number) {
  const expected = await dumpGeneration(redis!.client, prefix, projected);
  expect(Object.keys(expected).length).toBeGreaterThan(10);
  expect(await dumpGeneration(redis!.client, prefix, rebuilt)).toEqual(expected);
}

// On one Redis: the bulk load is the same commands on a cluster, which the rebuild suite above covers.
describe('bulk rebuild', () => {
  beforeAll(async () => {
    redis = await createTestRedis();
  });

  afterAll(() => redis?.dispose());

  it('writes every tally, voter and rank exactly as the event-by-event projector does, for like, updown and rating polls', async (context) => {
    if (redis === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(400);
    // A ballot cast then retracted, a rating changed, a target whose only ballot went.
    for (const [poll, target, voter, value] of [['likes', 'gone', 'v1', 1], ['likes', 'gone', 'v1', 0], ['stars', 't0', 'changer', 5], ['stars', 't0', 'changer', 2], ['votes', 't1', 'changer', -1], ['votes', 't1', 'changer', 0]] as const) {
      await castVote(appender, { projectId, poll, target, voter, value });
    }
    await projectLiveToHead(prefix);
    const progress: RebuildProgress[] = [];

    // The old generation stays a minute after the flip, so the two can be compared.
    const result = await rebuild(prefix, { targetsPerFetch: 3, unlinkAfterMs: 60_000, onProgress: (now) => progress.push(now) });

    expect(result.generation).toBe(2);
    const keys = new RedisKeys(prefix, 2);
    const rebuiltUpTo = parsePosition((await redis!.client.get(keys.checkpoint())) ?? '')!;
    await projectLiveToHead(prefix);
    await expectSameGenerations(prefix, 1, 2);
    expect(await redis!.client.hGetAll(keys.tally({ projectId, poll: 'likes', target: 'gone' }))).toEqual({ count: '0', sum: '0', up: '0', down: '0' });
    expect(await redis!.client.exists(keys.voters({ projectId, poll: 'likes', target: 'gone' }))).toBe(0);
    expect(await redis!.client.zScore(keys.rank({ projectId, poll: 'likes' }, 'count'), 'gone')).toBeNull();
    expect(await redis!.client.hGet(keys.voters({ projectId, poll: 'stars', target: 't0' }), 'changer')).toBe('2');
    expect(await redis!.client.hGet(keys.voters({ projectId, poll: 'votes', target: 't1' }), 'changer')).toBeNull();
    // Progress is told in events while the log loads in bulk, and ends at every event the generation holds.
    expect(progress.filter((now) => now.status === 'rebuilding').length).toBeGreaterThan(2);
    const held = await database.db.selectFrom('vote_events').where(committedUpTo(rebuiltUpTo)).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(result.eventsDone).toBe(Number(held.n));
    expect(result.eventsTotal).toBe(await countVoteEvents(database.db));
    expect((await verifyTallies(database.db, redis!.client, prefix)).differences).toEqual([]);
  });

  it('loads only up to a transaction still in flight, and catches it up once it commits', async (context) => {
    if (redis === undefined || database.url === undefined) context.skip();
    const { prefix, projectId } = await givenProjectedReadModel(100);
    // A vote whose transaction began first and commits last, around a vote committed meanwhile.
    const late = new pg.Client({ connectionString: database.url });
    await late.connect();
    try {
      await late.query('begin');
      const { rows } = await late.query<{ tx: string; pos: string }>(
        `insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
         values (gen_random_uuid(), $1, 'likes', 't0', 'late-voter', 1, 'VoteCast', 1, 0, now())
         returning transaction_id::text as tx, global_position::text as pos`,
        [projectId],
      );
      const lateAt = { transactionId: BigInt(rows[0]!.tx), globalPosition: BigInt(rows[0]!.pos) };
      await castVote(appender, { projectId, poll: 'likes', target: 't0', voter: 'early-voter', value: 1 });

      const result = await rebuild(prefix);

      expect(result.generation).toBe(2);
      const checkpoint = parsePosition((await redis!.client.get(new RedisKeys(prefix, 2).checkpoint())) ?? '');
      expect(checkpoint !== undefined && comparePositions(checkpoint, lateAt) < 0).toBe(true);
      await late.query('commit');
    } finally {
      await late.end();
    }
    await projectLiveToHead(prefix);
    await expectTalliesToMatchLog(database.db, await RedisTallyStore.open(redis!.client, prefix), projectId);
    expect((await verifyTallies(database.db, redis!.client, prefix)).differences).toEqual([]);
  });

  it('loads again from scratch after a rebuild died half way through the bulk load, dropping what changed meanwhile', async (context) => {
    if (redis === undefined) context.skip();
    const { prefix } = await givenProjectedReadModel(300);
    let chunks = 0;
    const dying = rebuild(prefix, {
      targetsPerFetch: 2,
      onProgress: () => {
        if ((chunks += 1) === 4) throw new Error('killed');
      },
    });
    await expect(dying).rejects.toThrow('killed');
    expect(await liveGeneration(redis!.client, prefix)).toBe(1);
    const half = new RedisKeys(prefix, 2);
    expect(await redis!.client.exists(half.checkpoint())).toBe(0);

    // Every voter of a tally the dead load wrote takes their vote back before the rerun.
    let written: ReturnType<RedisKeys['parseTallyKey']>;
    for await (const names of scanKeys(redis!.client, half.tallyPattern())) {
      for (const name of names) {
        const key = half.parseTallyKey(name);
        if (written === undefined && key !== undefined && (await redis!.client.hLen(half.voters(key))) > 0) written = key;
      }
    }
    expect(written).toBeDefined();
    for (const voter of await redis!.client.hKeys(half.voters(written!))) await castVote(appender, { ...written!, voter, value: 0 });
    await projectLiveToHead(prefix);

    const rerun = await rebuild(prefix, { unlinkAfterMs: 60_000 });

    expect(rerun.generation).toBe(2);
    await projectLiveToHead(prefix);
    expect(await redis!.client.exists(half.voters(written!))).toBe(0);
    await expectSameGenerations(prefix, 1, 2);
  });
});
