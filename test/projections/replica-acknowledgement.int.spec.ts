import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { definePollRules } from '../../src/domain/poll.js';
import { rankScores } from '../../src/domain/ranking.js';
import { applyBallotChange, emptyTally } from '../../src/domain/tally.js';
import { connectRedis, type SingleRedis } from '../../src/platform/redis.js';
import { liveGeneration, RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { rebuildTallies } from '../../src/projections/operations/rebuild.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { pino } from 'pino';
import type { PollChange } from '../../src/projections/tallies/tally-projection.js';
import { type PrivateRedisServer, startPrivateRedisServer } from '../support/redis.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

const logger = pino({ level: 'silent' });
let master: PrivateRedisServer | undefined;
let replica: PrivateRedisServer | undefined;
let masterClient: SingleRedis;
let replicaClient: SingleRedis;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  [master, replica] = [await startPrivateRedisServer(), await startPrivateRedisServer()];
  if (master === undefined || replica === undefined) return;
  [masterClient, replicaClient] = [await connectRedis(master.url), await connectRedis(replica.url)];
  await replicaClient.sendCommand(['REPLICAOF', '127.0.0.1', new URL(master.url).port]);
  await vi.waitFor(async () => expect(Number(await masterClient.sendCommand(['WAIT', '1', '100']))).toBe(1), { timeout: 20_000, interval: 100 });
});

afterAll(async () => {
  masterClient?.destroy();
  replicaClient?.destroy();
  await replica?.stop();
  await master?.stop();
  await database.dispose();
});

describe('a read model whose writes replicas must acknowledge (REDIS_REPLICAS_TO_ACKNOWLEDGE)', () => {
  it("moves no checkpoint past a poll's write its replica has not acknowledged, even on a retry that has nothing left to write there", async (context) => {
    if (master === undefined || replica === undefined) return context.skip();
    const poll = { projectId: randomUUID(), poll: 'votes' };
    const tally = applyBallotChange(emptyTally, 0, 1);
    const vote: PollChange[] = [
      {
        poll,
        expectedCheckpoint: undefined,
        checkpoint: '1.1',
        tallies: [{ key: { ...poll, target: 'a' }, tally, emptiedBuckets: [], voters: new Map([['ann', 1]]), scores: rankScores(definePollRules('updown'), tally) }],
      },
    ];
    const store = await RedisTallyStore.open(masterClient, 'cv', { replicasToAcknowledge: 1 });
    // The replica stops answering for 3 s: nothing written meanwhile is acknowledged.
    const asleep = replicaClient.sendCommand(['DEBUG', 'SLEEP', '3']);

    await expect(store.applyChanges(vote, { from: undefined, to: '1.1', polls: [poll] })).rejects.toThrow(/replicas acknowledged/);
    // The projector tries the batch again. The poll holds its events now, so the fold skips them
    // and nothing is written there; the write before is still on the master alone.
    await expect(store.applyChanges([], { from: undefined, to: '1.1', polls: [poll] })).rejects.toThrow(/replicas acknowledged/);
    expect(await store.readCheckpoint()).toBeUndefined();

    await asleep;
    await store.applyChanges([], { from: undefined, to: '1.1', polls: [poll] });
    expect(await store.readCheckpoint()).toBe('1.1');
  });

  it('flips to a rebuilt generation only once the replica holds its bulk load', { timeout: 60_000 }, async (context) => {
    if (master === undefined || replica === undefined) return context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    await castRandomVotes(appender, projectId, 200);
    await appender.close();
    const rebuild = () => rebuildTallies({ db: database.db, redis: masterClient, prefix: 'cvrebuild', logger, batchSize: 50, unlinkAfterMs: 1000, replicasToAcknowledge: 1 });

    const asleep = replicaClient.sendCommand(['DEBUG', 'SLEEP', '7']);
    await expect(rebuild()).rejects.toThrow(/replicas of each Redis master acknowledged the bulk load/);
    expect(await liveGeneration(masterClient, 'cvrebuild')).toBe(1);

    await asleep;
    await rebuild();
    expect(await liveGeneration(masterClient, 'cvrebuild')).toBe(2);
    await expectTalliesToMatchLog(database.db, await RedisTallyStore.open(masterClient, 'cvrebuild'), projectId);
  });
});
