import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { inlineParameters, inTwoStatementTransaction } from '../../src/platform/two-statement-transaction.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls } from '../support/fixtures.js';

const hostile = ["it's", 'back\\slash', '"quoted"', '{braces}', 'a,b', 'NULL', '', ' spaced ', '$1', "'); drop table vote_events; --", 'ünïcødé ✓'];

describe('a transaction of two statements on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.dispose();
  });

  it('inlines parameters as literals that read back exactly, arrays and nulls included', async (context) => {
    if (database.url === undefined) context.skip();
    const statement = sql<{ texts: (string | null)[]; one: string; number: number }>`select ${[...hostile, null]}::text[] as texts, ${hostile[9]}::text as one, ${42}::int as number`;
    const text = inlineParameters(statement.compile(database.db));
    const { rows } = await sql.raw<{ texts: (string | null)[]; one: string; number: number }>(text).execute(database.db);
    expect(rows[0]).toEqual({ texts: [...hostile, null], one: hostile[9], number: 42 });
  });

  it('refuses a statement whose own text holds a "$n" it would take for a placeholder', () => {
    expect(() => inlineParameters({ sql: "select '$2' || $1", parameters: ['a'] } as never)).toThrow(/2 placeholders for 1 parameters/);
  });

  it('appends a vote batch in two messages to the server: BEGIN with the locking read, the write with COMMIT', async (context) => {
    if (database.url === undefined) context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 1 });
    const sent: string[] = [];
    const originalQuery = pg.Client.prototype.query;
    const query = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      sent.push(typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text);
      return Reflect.apply(originalQuery, this, args) as never;
    });
    try {
      await castVote(appender, { projectId, poll: 'votes', target: 't', voter: hostile[9]!, value: 1 });
    } finally {
      query.mockRestore();
      await appender.close();
    }
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^begin;\s+select \* from lock_vote_batch\(/);
    expect(sent[1]).toMatch(/;\s+commit$/);
    expect(await countVoteEvents(database.db)).toBe(1);
  });

  it('rolls back when the write fails, leaving nothing written and the connection usable', async (context) => {
    if (database.url === undefined) context.skip();
    await sql`create table if not exists two_statement_probe (id int primary key)`.execute(database.db);
    const failing = inTwoStatementTransaction(database.db, async (tx) => {
      await tx.first(sql`insert into two_statement_probe values (${1}) returning id`);
      return tx.last(sql`insert into two_statement_probe values (${1}) returning id`);
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from two_statement_probe`.execute(database.db);
    expect(rows[0]!.n).toBe(0);
    const committed = await inTwoStatementTransaction(database.db, async (tx) => {
      await tx.first(sql`insert into two_statement_probe values (${2}) returning id`);
      return tx.last(sql<{ id: number }>`insert into two_statement_probe values (${3}) returning id`);
    });
    expect(committed).toEqual([{ id: 3 }]);
  });
});
