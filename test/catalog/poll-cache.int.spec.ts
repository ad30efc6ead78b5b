import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollCache } from '../../src/catalog/poll-cache.js';
import { definePoll } from '../../src/commands/polls.js';
import { createProject } from '../../src/commands/projects.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { randomId } from '../support/fixtures.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.dispose());

const givenPoll = async (kind: 'like' | 'updown' = 'like') => {
  const project = await createProject(database.db, randomId('project'));
  await definePoll(database.db, { projectId: project.id, name: 'reactions', kind });
  return { projectId: project.id, poll: 'reactions' };
};
const redefine = (key: { projectId: string; poll: string }, kind: 'like' | 'updown') => definePoll(database.db, { projectId: key.projectId, name: key.poll, kind });

describe('the poll cache', () => {
  describe('for readers', () => {
    it('answers from the cache within cacheMs', async () => {
      const key = await givenPoll('like');
      const polls = new PollCache(database.db, { cacheMs: 60_000 });
      await polls.find(key);
      await redefine(key, 'updown');
      expect((await polls.find(key))?.kind).toBe('like');
    });

    it('asks the database every time with cacheMs 0', async () => {
      const key = await givenPoll('like');
      const polls = new PollCache(database.db, { cacheMs: 0 });
      await polls.find(key);
      await redefine(key, 'updown');
      expect((await polls.find(key))?.kind).toBe('updown');
    });
  });

  describe('for the projector', () => {
    it('loads rules afresh even when a reader has the poll cached', async () => {
      const key = await givenPoll('like');
      const polls = new PollCache(database.db, { cacheMs: 60_000 });
      await polls.find(key);
      await redefine(key, 'updown');
      await polls.loadRules([key]);
      expect(polls.rulesOf(key).kind).toBe('updown');
    });

    it('keeps the rules it loaded when readers fill the cache', async () => {
      const key = await givenPoll('updown');
      const polls = new PollCache(database.db, { cacheMs: 60_000, maxEntries: 2 });
      await polls.loadRules([key]);
      for (let i = 0; i < 5; i++) await polls.find({ projectId: key.projectId, poll: `made-up-${i}` });
      expect(polls.rulesOf(key)).toMatchObject({ kind: 'updown', min: -1, max: 1 });
    });

    it('refuses a poll whose rules it has not loaded', async () => {
      const key = await givenPoll();
      const polls = new PollCache(database.db, { cacheMs: 60_000 });
      await polls.find(key);
      expect(() => polls.rulesOf(key)).toThrow(/No rules loaded/);
    });
  });
});
