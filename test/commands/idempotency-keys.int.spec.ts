import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { deleteExpiredIdempotencyKeys, expireIdempotencyKeys } from '../../src/commands/idempotency-keys.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls, randomId } from '../support/fixtures.js';

const engines = await testEngines(4);
const day = 24 * 60 * 60;

describe.each(engines)('idempotency keys on $engine', ({ open }) => {
  let database: TestDatabase;
  let appender: VoteAppender;

  beforeAll(async () => {
    database = await open();
    appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2, idempotencyKeyTtlSeconds: day });
  });

  afterAll(async () => {
    await appender.close();
    await database.dispose();
  });

  /** Moves a key's first use `seconds` into the past, as if that much time had gone by. */
  const age = (projectId: string, key: string, seconds: number) =>
    sql`update idempotency_keys set created_at = created_at - ${seconds}::int * interval '1 second' where project_id = ${projectId} and key = ${key}`.execute(database.db);
  const keysOf = async (projectId: string) =>
    (await database.db.selectFrom('idempotency_keys').select('key').where('project_id', '=', projectId).execute()).map((row) => row.key).sort();

  describe('within the window', () => {
    it('replays the first answer, 23 hours on', async () => {
      const { id: projectId } = await givenProjectWithPolls(database.db);
      const key = randomUUID();
      const first = await castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: 1, idempotencyKey: key });
      await age(projectId, key, 23 * 60 * 60);
      await expect(castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: -1, idempotencyKey: key })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      expect(await castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: 1, idempotencyKey: key })).toEqual({ result: first.result, replayed: true });
    });
  });

  describe('once the key has expired', () => {
    it('accepts the key as new, even before the cleanup has run, and honours it again from then on', async () => {
      const { id: projectId } = await givenProjectWithPolls(database.db);
      const key = randomUUID();
      const first = await castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: 1, idempotencyKey: key });
      await age(projectId, key, day + 1);
      const before = await countVoteEvents(database.db);

      const second = await castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: -1, idempotencyKey: key });
      expect(second).toMatchObject({ replayed: false, result: { value: -1, previous: 1, changed: true } });
      expect(second.result.position).not.toBe(first.result.position);
      expect(await countVoteEvents(database.db)).toBe(before + 1);
      const logged = await database.db.selectFrom('vote_events').select('value').where('project_id', '=', projectId).where('idempotency_key', '=', key).orderBy('global_position').execute();
      expect(logged.map((event) => event.value)).toEqual([1, -1]);

      const again = await castVote(appender, { projectId, poll: 'votes', target: 'post', voter: 'kim', value: -1, idempotencyKey: key });
      expect(again).toEqual({ result: second.result, replayed: true });
    });
  });

  describe('the cleanup', () => {
    it('deletes only expired keys, in batches of the size asked', async () => {
      const { id: projectId } = await givenProjectWithPolls(database.db);
      const keys = Array.from({ length: 7 }, (_, i) => `key-${i}-${randomId('k')}`);
      for (const key of keys) await castVote(appender, { projectId, poll: 'likes', target: key, voter: 'ann', value: 1, idempotencyKey: key });
      const expired = keys.slice(0, 5);
      for (const key of expired) await age(projectId, key, day + 60);
      await age(projectId, keys[5]!, day - 60);

      expect(await deleteExpiredIdempotencyKeys(database.db, day, 2)).toBe(2);
      expect((await keysOf(projectId)).length).toBe(5);

      const stop = new AbortController();
      const logger = pino({ level: 'silent' });
      const running = expireIdempotencyKeys(database.db, { ttlSeconds: day, intervalMs: 60_000, batchSize: 2, logger }, stop.signal);
      await expect.poll(() => keysOf(projectId)).toEqual(keys.slice(5).sort());
      stop.abort();
      await running;
      expect(await deleteExpiredIdempotencyKeys(database.db, day, 2)).toBe(0);
    });

    it('leaves a key that was renewed after it expired', async () => {
      const { id: projectId } = await givenProjectWithPolls(database.db);
      const key = randomUUID();
      await castVote(appender, { projectId, poll: 'likes', target: 'post', voter: 'ann', value: 1, idempotencyKey: key });
      await age(projectId, key, day + 1);
      await castVote(appender, { projectId, poll: 'likes', target: 'post', voter: 'ann', value: 0, idempotencyKey: key });
      await deleteExpiredIdempotencyKeys(database.db, day, 100);
      expect(await keysOf(projectId)).toEqual([key]);
    });
  });
});
