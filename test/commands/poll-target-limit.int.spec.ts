import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { definePoll } from '../../src/commands/polls.js';
import { createProject } from '../../src/commands/projects.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { openPostgres } from '../../src/platform/database.js';
import { type TestDatabase, testEngines } from '../support/database.js';
import { randomId } from '../support/fixtures.js';

const engines = await testEngines(8);

describe.each(engines)('a poll with a target limit on $engine', ({ open }) => {
  let database: TestDatabase;
  let second: ReturnType<typeof openPostgres> | undefined;
  let appenders: VoteAppender[];

  beforeAll(async () => {
    database = await open();
    // A second pool on the same database stands in for a second API process.
    second = database.url === undefined ? undefined : openPostgres(database.url, 8);
    const options = { windowMs: 1, maxBatch: 16, maxConcurrentBatches: 4 };
    appenders = [new VoteAppender(database.db, options), new VoteAppender((second ?? database).db, options)];
  });

  afterAll(async () => {
    await Promise.all(appenders.map((appender) => appender.close()));
    await second?.close();
    await database.dispose();
  });

  const givenPoll = async (maxTargets: number | undefined) => {
    const project = await createProject(database.db, randomId('project'));
    await definePoll(database.db, { projectId: project.id, name: 'capped', kind: 'like', maxTargets });
    return project.id;
  };
  const vote = (projectId: string, target: string, voter: string, value = 1, appender = 0) =>
    castVote(appenders[appender]!, { projectId, poll: 'capped', target, voter, value });
  const targetsOf = async (projectId: string) => {
    const rows = await database.db.selectFrom('ballots').select('target').distinct().where('project_id', '=', projectId).execute();
    return rows.map((row) => row.target).sort();
  };
  const countOf = async (projectId: string) =>
    (await database.db.selectFrom('polls').select('target_count').where('project_id', '=', projectId).executeTakeFirstOrThrow()).target_count;

  it('admits exactly maxTargets new targets out of 60 raced from two processes', async () => {
    const projectId = await givenPoll(10);
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => vote(projectId, `t${i}`, `v${i}`, 1, i % 2)));
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.map((result) => (result as PromiseRejectedResult).reason.code)).toEqual(Array(50).fill('poll_target_limit_reached'));
    expect(await targetsOf(projectId)).toHaveLength(10);
    expect(await countOf(projectId)).toBe(10);
  });

  it('counts a new target once when many voters race onto it', async () => {
    const projectId = await givenPoll(2);
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => vote(projectId, `t${i % 2}`, `v${i}`, 1, i % 2)));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(await countOf(projectId)).toBe(2);
  });

  it('still takes votes, changes and retractions on the targets it has once full', async () => {
    const projectId = await givenPoll(1);
    await vote(projectId, 'kept', 'ann');
    await expect(vote(projectId, 'other', 'ann')).rejects.toMatchObject({ code: 'poll_target_limit_reached' });
    await expect(vote(projectId, 'kept', 'bob')).resolves.toMatchObject({ result: { changed: true } });
    await expect(vote(projectId, 'kept', 'ann', 0)).resolves.toMatchObject({ result: { value: 0, changed: true } });
    await expect(vote(projectId, 'other', 'cy', 0)).resolves.toMatchObject({ result: { changed: false } });
    expect(await targetsOf(projectId)).toEqual(['kept']);
  });

  it('counts the targets a poll already has when a limit is set, and stops counting when it goes', async () => {
    const projectId = await givenPoll(undefined);
    for (const target of ['a', 'b', 'c']) await vote(projectId, target, 'ann');
    expect(await countOf(projectId)).toBeNull();
    await definePoll(database.db, { projectId, name: 'capped', kind: 'like', maxTargets: 2 });
    expect(await countOf(projectId)).toBe(3);
    await expect(vote(projectId, 'd', 'ann')).rejects.toMatchObject({ code: 'poll_target_limit_reached' });
    await expect(vote(projectId, 'c', 'bob')).resolves.toMatchObject({ result: { changed: true } });
    await definePoll(database.db, { projectId, name: 'capped', kind: 'like', maxTargets: 4 });
    await vote(projectId, 'd', 'ann');
    expect(await countOf(projectId)).toBe(4);
    await definePoll(database.db, { projectId, name: 'capped', kind: 'like' });
    expect(await countOf(projectId)).toBeNull();
    await vote(projectId, 'e', 'ann');
    expect(await targetsOf(projectId)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
