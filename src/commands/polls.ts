import { type Kysely, sql } from 'kysely';
import { ClickvoteError } from '../domain/errors.js';
import { definePollRules, type PollDefinition, type PollKind, sameRules } from '../domain/poll.js';
import type { Database } from '../platform/database.js';
import { advisoryLockKey } from './advisory-locks.js';

export interface PollView extends PollDefinition {
  readonly createdAt: Date;
  readonly archivedAt: Date | null;
}

export type PollChange = 'created' | 'updated' | 'unchanged';

export interface DefinePollInput {
  readonly projectId: string;
  readonly name: string;
  readonly kind: PollKind;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

/**
 * Creates or updates a poll. The kind and scale of a poll that already has votes are fixed:
 * changing them would make its tallies mean something else.
 */
export async function definePoll(db: Kysely<Database>, input: DefinePollInput, now = new Date()) {
  const rules = definePollRules(input.kind, input.min, input.max);
  return db.transaction().execute(async (tx): Promise<{ change: PollChange; poll: PollView }> => {
    // Exclusive against the shared lock every vote batch takes on its polls.
    await sql`select pg_advisory_xact_lock(${advisoryLockKey('poll', input.projectId, input.name)}::bigint)`.execute(tx);
    const existing = await findPoll(tx, input.projectId, input.name);
    const values = { kind: rules.kind, min_value: rules.min, max_value: rules.max, updated_at: now };
    if (existing === undefined) {
      await tx.insertInto('polls').values({ project_id: input.projectId, name: input.name, ...values, created_at: now }).execute();
      return { change: 'created', poll: { name: input.name, ...rules, archived: false, createdAt: now, archivedAt: null } };
    }
    if (existing.archived) throw pollArchived(input.name);
    if (sameRules(existing, rules)) return { change: 'unchanged', poll: existing };
    if (await pollHasVotes(tx, input.projectId, input.name)) {
      throw new ClickvoteError(
        'poll_definition_conflict',
        `Poll "${input.name}" already has votes; its kind and scale (${existing.kind} ${existing.min}..${existing.max}) cannot change.`,
      );
    }
    await tx.updateTable('polls').set(values).where('project_id', '=', input.projectId).where('name', '=', input.name).execute();
    return { change: 'updated', poll: { ...existing, ...rules } };
  });
}

/** Archived polls keep their history and definitions but take no new votes. */
export async function archivePoll(db: Kysely<Database>, projectId: string, name: string, now = new Date()): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${advisoryLockKey('poll', projectId, name)}::bigint)`.execute(tx);
    const result = await tx
      .updateTable('polls')
      .set({ archived_at: sql`coalesce(archived_at, ${now})`, updated_at: now })
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw pollNotFound(name);
  });
}

export async function findPoll(db: Kysely<Database>, projectId: string, name: string): Promise<PollView | undefined> {
  const row = await db
    .selectFrom('polls')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
  return row === undefined ? undefined : toPollView(row);
}

export async function getPoll(db: Kysely<Database>, projectId: string, name: string): Promise<PollView> {
  const poll = await findPoll(db, projectId, name);
  if (poll === undefined) throw pollNotFound(name);
  return poll;
}

export async function listPolls(db: Kysely<Database>, projectId: string): Promise<PollView[]> {
  const rows = await db.selectFrom('polls').selectAll().where('project_id', '=', projectId).orderBy('name').execute();
  return rows.map(toPollView);
}

async function pollHasVotes(db: Kysely<Database>, projectId: string, name: string): Promise<boolean> {
  const row = await db
    .selectFrom('vote_events')
    .select(sql`1`.as('one'))
    .where('project_id', '=', projectId)
    .where('poll', '=', name)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

function toPollView(row: { name: string; kind: string; min_value: number; max_value: number; created_at: Date; archived_at: Date | null }): PollView {
  return {
    name: row.name,
    kind: row.kind as PollKind,
    min: row.min_value,
    max: row.max_value,
    archived: row.archived_at !== null,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  };
}

export const pollNotFound = (name: string) => new ClickvoteError('poll_not_found', `Poll "${name}" does not exist.`);
const pollArchived = (name: string) =>
  new ClickvoteError('poll_archived', `Poll "${name}" is archived; its history stays but it cannot be redefined.`);
