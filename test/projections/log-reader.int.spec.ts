import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPosition } from '../../src/domain/position.js';
import { type LoggedVote, readEventsAfter } from '../../src/projections/log-queries/log-reader.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';

describe.each(await testEngines())('reading the log on $engine', ({ open }) => {
  let database: TestDatabase;
  let projectId: string;

  beforeAll(async () => {
    database = await open();
    projectId = (await givenProjectWithPolls(database.db)).id;
    // One transaction whose positions go from one digit to two: a text order would put 10 before 9.
    await sql`
      insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
      select gen_random_uuid(), ${projectId}::uuid, 'votes', 't' || (i % 3), 'v' || i, 1, 'VoteCast', case when i % 2 = 0 then 1 else -1 end, 0, now()
      from generate_series(1, 25) as i
    `.execute(database.db);
  });

  afterAll(async () => {
    await database.dispose();
  });

  it('pages through every event in commit order, each with its position and columns', async () => {
    const read: LoggedVote[] = [];
    for (let page = await readEventsAfter(database.db, undefined, 4); page.length > 0; page = await readEventsAfter(database.db, page.at(-1)!.position, 4)) read.push(...page);

    const { rows } = await sql<{ position: string; voter: string; target: string; value: number }>`
      select transaction_id::text || '.' || global_position::text as position, voter, target, value
      from vote_events order by transaction_id, global_position
    `.execute(database.db);
    expect(read.map((event) => ({ position: formatPosition(event.position), voter: event.voter, target: event.target, value: event.value }))).toEqual(rows);
    expect(read.map((event) => event.voter)).toEqual(Array.from({ length: 25 }, (_, i) => `v${i + 1}`));
    expect(read.every((event) => event.projectId === projectId && event.poll === 'votes' && event.previous === 0 && event.recordedAtMs > 0)).toBe(true);
  });
});
