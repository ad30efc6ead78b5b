import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import type { VoteReceipt } from '../../src/domain/vote-command.js';
import { ClickvoteError } from '../../src/domain/errors.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls, randomId } from '../support/fixtures.js';

const engines = await testEngines(8);

describe.each(engines)('vote appender on $engine', ({ open }) => {
  let database: TestDatabase;
  let second: TestDatabase | undefined;
  let appenders: VoteAppender[];
  let projectId: string;

  beforeAll(async () => {
    database = await open();
    // A second connection pool on the same database stands in for a second API process.
    second = database.url === undefined ? undefined : await reopen(database.url);
    const options = { windowMs: 2, maxBatch: 64, maxConcurrentBatches: 3 };
    appenders = [new VoteAppender(database.db, options), new VoteAppender((second ?? database).db, options)];
    projectId = (await givenProjectWithPolls(database.db)).id;
  });

  afterAll(async () => {
    await Promise.all(appenders.map((appender) => appender.close()));
    await second?.close();
    await database.dispose();
  });

  const vote = (poll: string, target: string, voter: string, value: number, idempotencyKey?: string, appender = 0) =>
    castVote(appenders[appender]!, { projectId, poll, target, voter, value, idempotencyKey });

  it('gives every ballot gapless versions and loses or doubles nothing under 50 concurrent callers', async () => {
    const ballots = Array.from({ length: 20 }, (_, i) => ({ target: `t${i % 5}-${randomId('x')}`, voter: `v${i}` }));
    const receipts: VoteReceipt[] = [];
    let next = 0;
    const caller = async (callerIndex: number) => {
      while (next < 2000) {
        next += 1;
        const ballot = ballots[Math.floor(Math.random() * ballots.length)]!;
        const value = [-1, 0, 1][Math.floor(Math.random() * 3)]!;
        receipts.push(await vote('votes', ballot.target, ballot.voter, value, undefined, callerIndex % 2));
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => caller(i)));
    expect(receipts).toHaveLength(2000);

    const events = await database.db
      .selectFrom('vote_events')
      .select(['event_id', 'target', 'voter', 'stream_version', 'value', 'previous', 'transaction_id', 'global_position'])
      .where('project_id', '=', projectId)
      .where('poll', '=', 'votes')
      .orderBy('global_position')
      .execute();
    const changed = receipts.filter((receipt) => receipt.result.changed);
    expect(events).toHaveLength(changed.length);
    expect(new Set(changed.map((receipt) => receipt.result.position)).size).toBe(changed.length);
    expect(new Set(events.map((event) => `${event.transaction_id}.${event.global_position}`))).toEqual(
      new Set(changed.map((receipt) => receipt.result.position)),
    );

    const stored = await database.db.selectFrom('ballots').selectAll().where('project_id', '=', projectId).execute();
    for (const ballot of ballots) {
      const stream = events.filter((event) => event.target === ballot.target && event.voter === ballot.voter);
      expect(stream.map((event) => event.stream_version)).toEqual(stream.map((_, i) => i + 1));
      stream.forEach((event, i) => expect(event.previous).toBe(i === 0 ? 0 : stream[i - 1]!.value));
      const row = stored.find((b) => b.target === ballot.target && b.voter === ballot.voter);
      const last = stream.at(-1);
      if (last === undefined) expect(row).toBeUndefined();
      else expect({ value: row?.value, version: row?.version }).toEqual({ value: last.value, version: last.stream_version });
    }
  });

  describe('when the same voter clicks twice in one batch', () => {
    it('appends one event and answers the second click with changed: false', async () => {
      const target = randomId('post');
      const [first, second] = await Promise.all([vote('likes', target, 'ann', 1), vote('likes', target, 'ann', 1)]);
      expect(first.result).toMatchObject({ value: 1, previous: 0, changed: true });
      expect(second.result).toMatchObject({ value: 1, previous: 1, changed: false, position: first.result.position });
    });
  });

  describe('when a batch holds bad commands', () => {
    it('fails only the bad ones', async () => {
      const target = randomId('post');
      const results = await Promise.allSettled([
        vote('stars', target, 'a', 4),
        vote('stars', target, 'b', 9),
        vote('missing-poll', target, 'c', 1),
        vote('likes', target, 'd', -1),
        vote('stars', target, 'e', 5),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as ClickvoteError).code : 'ok'));
      expect(codes).toEqual(['ok', 'validation_failed', 'poll_not_found', 'validation_failed', 'ok']);
    });
  });

  describe('when the database refuses one command of a batch', () => {
    // A trigger of this file's own database stands in for any failure only PostgreSQL sees.
    beforeAll(async () => {
      await sql`
        create function refuse_poisoned_target() returns trigger language plpgsql as $$
        begin
          if new.target like 'poisoned-%' then raise exception 'refused target %', new.target using errcode = 'check_violation'; end if;
          return new;
        end $$`.execute(database.db);
      await sql`create trigger refuse_poisoned_target before insert on vote_events for each row execute function refuse_poisoned_target()`.execute(database.db);
    });

    afterAll(async () => {
      await sql`drop trigger refuse_poisoned_target on vote_events`.execute(database.db);
    });

    it('fails that command alone and answers each neighbour with its own appended vote', async () => {
      const target = randomId('post');
      const results = await Promise.allSettled([
        vote('likes', target, 'a', 1),
        vote('votes', target, 'b', -1),
        vote('likes', randomId('poisoned'), 'c', 1),
        vote('stars', target, 'd', 4),
        vote('likes', target, 'e', 1),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
      const receipts = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.result] : []));
      expect(receipts.map((r) => [r.voter, r.value, r.changed])).toEqual([['a', 1, true], ['b', -1, true], ['d', 4, true], ['e', 1, true]]);
      const logged = await database.db.selectFrom('vote_events').select(sql<string>`transaction_id::text || '.' || global_position::text`.as('position')).where('project_id', '=', projectId).where('target', '=', target).execute();
      expect(new Set(logged.map((row) => row.position))).toEqual(new Set(receipts.map((r) => r.position)));
    });
  });

  describe('with an Idempotency-Key', () => {
    it('returns the first result again and appends nothing', async () => {
      const key = randomUUID();
      const target = randomId('post');
      const first = await vote('votes', target, 'kim', 1, key);
      const before = await countVoteEvents(database.db);
      const again = await vote('votes', target, 'kim', 1, key, 1);
      expect(again).toEqual({ result: first.result, replayed: true });
      expect(await countVoteEvents(database.db)).toBe(before);
    });

    it('answers the same key in one batch once', async () => {
      const key = randomUUID();
      const target = randomId('post');
      const before = await countVoteEvents(database.db);
      const [a, b] = await Promise.all([vote('votes', target, 'lee', -1, key), vote('votes', target, 'lee', -1, key)]);
      expect(b.result).toEqual(a.result);
      expect([a.replayed, b.replayed]).toEqual([false, true]);
      expect(await countVoteEvents(database.db)).toBe(before + 1);
    });

    it('rejects the same key with a different body', async () => {
      const key = randomUUID();
      await vote('votes', randomId('post'), 'max', 1, key);
      await expect(vote('votes', randomId('post'), 'max', 1, key, 1)).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    });

    it('does not keep a key whose command failed, so a corrected retry goes through', async () => {
      const key = randomUUID();
      const target = randomId('post');
      await expect(vote('stars', target, 'ned', 7, key)).rejects.toMatchObject({ code: 'validation_failed' });
      await expect(vote('stars', target, 'ned', 3, key)).resolves.toMatchObject({ result: { value: 3, changed: true } });
    });
  });

  it('stores ids with quotes, commas, braces, backslashes, NULL and emoji as given', async () => {
    const targets = ['a,b', '{x}', '"quoted"', 'back\\slash', 'NULL', 'ünïcödé 👍', ' ', 'x'.repeat(256)];
    for (const target of targets) await vote('likes', target, target, 1);
    const rows = await database.db
      .selectFrom('vote_events')
      .select(['target', 'voter'])
      .where('project_id', '=', projectId)
      .where('target', 'in', targets)
      .execute();
    expect(new Set(rows.map((row) => row.target))).toEqual(new Set(targets));
    expect(rows.every((row) => row.target === row.voter)).toBe(true);
  });
});

async function reopen(url: string): Promise<TestDatabase> {
  const { openPostgres } = await import('../../src/platform/database.js');
  const handle = openPostgres(url, 8);
  return { ...handle, url, dispose: handle.close };
}
