import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { formatPosition } from '../../src/domain/position.js';
import { migrateToLatest } from '../../src/platform/migrate.js';
import { readEventsAfter } from '../../src/projections/log-queries/log-reader.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';

const engines = await testEngines(2);

// Events as pg_restore leaves them when the dumped cluster's transaction counter ran ahead of this one's.
describe.each(engines)('a log restored from a cluster whose transaction ids ran ahead, on $engine', ({ open }) => {
  let database: TestDatabase;
  let projectId: string;
  let appender: VoteAppender;
  const restored = [randomUUID(), randomUUID()];

  beforeAll(async () => {
    database = await open();
    projectId = (await givenProjectWithPolls(database.db)).id;
    appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 10, maxConcurrentBatches: 1 });
    for (const voter of ['ann', 'bob', 'cy']) await castVote(appender, { projectId, poll: 'likes', target: 'post', voter, value: 1 });
    const { rows } = await sql<{ ahead: string }>`select (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100000)::text as ahead`.execute(database.db);
    const ahead = rows[0]!.ahead;
    for (const [index, eventId] of restored.entries()) {
      await sql`
        insert into vote_events (transaction_id, event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
        values (${(BigInt(ahead) + BigInt(index)).toString()}::xid8, ${eventId}, ${projectId}, 'likes', 'post', ${`restored-${index}`}, 1, 'VoteCast', 1, 0, now())
      `.execute(database.db);
    }
    await sql`insert into ballots (project_id, poll, target, voter, value, version, last_transaction_id, last_global_position, updated_at)
      select project_id, poll, target, voter, value, stream_version, transaction_id, global_position, now() from vote_events where event_id = any(${restored}::uuid[])`.execute(database.db);
    await sql`insert into idempotency_keys (project_id, key, request_hash, result)
      select project_id, 'key-' || voter, 'hash', jsonb_build_object('position', transaction_id::text || '.' || global_position::text)
      from vote_events where event_id = any(${restored}::uuid[])`.execute(database.db);
  });

  afterAll(async () => {
    await appender.close();
    await database.dispose();
  });

  // Readers in commit order stop below every transaction still running, and other test files share the server.
  const readVisible = (count: number) =>
    vi.waitFor(async () => {
      const events = await readEventsAfter(database.db, undefined, 100);
      expect(events.length).toBeGreaterThanOrEqual(count);
      return events;
    }, { timeout: 10_000, interval: 50 });

  const positionsOf = async () =>
    (await sql<{ event_id: string; transaction_id: string; global_position: string }>`
      select event_id, transaction_id::text, global_position::text from vote_events where event_id = any(${restored}::uuid[]) order by global_position
    `.execute(database.db)).rows;

  it('hides them from every reader in commit order until migrate re-bases them, keeping positions and event ids', async () => {
    expect((await readVisible(3)).map((event) => event.voter)).toEqual(['ann', 'bob', 'cy']);
    const before = await positionsOf();

    let rebased = 0;
    await migrateToLatest(database.db, (events) => (rebased = events));
    expect(rebased).toBe(2);

    const visible = await readVisible(5);
    expect(visible.map((event) => event.voter)).toEqual(['ann', 'bob', 'cy', 'restored-0', 'restored-1']);
    const after = await positionsOf();
    expect(after.map((row) => [row.event_id, row.global_position])).toEqual(before.map((row) => [row.event_id, row.global_position]));
    const tokens = after.map((row) => `${row.transaction_id}.${row.global_position}`);
    expect(visible.slice(3).map((event) => formatPosition(event.position))).toEqual(tokens);

    const { rows: ballots } = await sql<{ token: string }>`
      select last_transaction_id::text || '.' || last_global_position::text as token from ballots where voter like 'restored-%' order by voter
    `.execute(database.db);
    expect(ballots.map((row) => row.token)).toEqual(tokens);
    const { rows: keys } = await sql<{ token: string }>`select result->>'position' as token from idempotency_keys where key like 'key-restored-%' order by key`.execute(database.db);
    expect(keys.map((row) => row.token)).toEqual(tokens);
  });

  it('leaves the log append-only, changes nothing when run again, and new votes follow the restored ones', async () => {
    await expect(sql`update vote_events set value = value`.execute(database.db)).rejects.toThrow(/append-only/);
    let rebased = 0;
    await migrateToLatest(database.db, (events) => (rebased = events));
    expect(rebased).toBe(0);
    await castVote(appender, { projectId, poll: 'likes', target: 'post', voter: 'dee', value: 1 });
    expect((await readVisible(6)).map((event) => event.voter).at(-1)).toBe('dee');
  });
});
