import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls } from '../support/fixtures.js';

const engines = await testEngines(2);

describe.each(engines)('the vote log on $engine', ({ open }) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await open();
    const project = await givenProjectWithPolls(database.db);
    const appender = new VoteAppender(database.db, { windowMs: 1, maxBatch: 10, maxConcurrentBatches: 1 });
    await castVote(appender, { projectId: project.id, poll: 'likes', target: 'post-1', voter: 'ann', value: 1 });
    await appender.close();
  });

  afterAll(() => database.dispose());

  it.each([
    ['UPDATE', sql`update vote_events set value = 0`],
    ['UPDATE of no row', sql`update vote_events set value = 0 where false`],
    ['DELETE', sql`delete from vote_events`],
    ['TRUNCATE', sql`truncate vote_events`],
  ])('rejects %s', async (_, statement) => {
    await expect(statement.execute(database.db)).rejects.toThrow(/append-only/);
    expect(await countVoteEvents(database.db)).toBe(1);
  });
});
