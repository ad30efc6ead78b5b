import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { definePoll } from '../../src/commands/polls.js';
import { createProject } from '../../src/commands/projects.js';
import type { PollKind } from '../../src/domain/poll.js';
import type { Database } from '../../src/platform/database.js';

export const randomId = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

export async function givenProjectWithPolls(db: Kysely<Database>, polls: Record<string, PollKind> = { likes: 'like', votes: 'updown', stars: 'rating' }) {
  const project = await createProject(db, randomId('project'));
  for (const [name, kind] of Object.entries(polls)) await definePoll(db, { projectId: project.id, name, kind });
  return project;
}

export async function countVoteEvents(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('vote_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
