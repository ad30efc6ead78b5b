import { type Kysely, sql } from 'kysely';
import { ClickvoteError } from '../domain/errors.js';
import { findPoll, type PollView } from '../catalog/polls.js';
import { definePollRules, type PollKind, pollNotFound, sameRules } from '../domain/poll.js';
import type { Database } from '../platform/database.js';
import { advisoryLockKey } from '../platform/advisory-locks.js';

export type PollChange = 'created' | 'updated' | 'unchanged';

export interface DefinePollInput {
  readonly projectId: string;
  readonly name: string;
  readonly kind: PollKind;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  readonly maxTargets?: number | undefined;
}

/**
 * Creates or updates a poll. The kind and scale of a poll that already has votes are fixed:
 * changing them would make its tallies mean something else. Its target limit may change at
 * any time; a limit below the targets it has only stops new ones.
 */
export async function definePoll(db: Kysely<Database>, input: DefinePollInput, now = new Date()) {
  const rules = definePollRules(input.kind, input.min, input.max);
  const maxTargets = input.maxTargets ?? null;
  return db.transaction().execute(async (tx): Promise<{ change: PollChange; poll: PollView }> => {
    // Exclusive against the shared lock every vote batch takes on its polls.
    await sql`select pg_advisory_xact_lock(${advisoryLockKey('poll', input.projectId, input.name)}::bigint)`.execute(tx);
    const existing = await findPoll(tx, input.projectId, input.name);
    const values = { kind: rules.kind, min_value: rules.min, max_value: rules.max, max_targets: maxTargets, updated_at: now };
    if (existing === undefined) {
      await tx.insertInto('polls').values({ project_id: input.projectId, name: input.name, ...values, target_count: maxTargets === null ? null : 0, created_at: now }).execute();
      return { change: 'created', poll: { name: input.name, ...rules, maxTargets, archived: false, createdAt: now, archivedAt: null } };
    }
    if (existing.archived) throw pollArchived(input.name);
    const rulesChange = !sameRules(existing, rules);
    if (!rulesChange && existing.maxTargets === maxTargets) return { change: 'unchanged', poll: existing };
    if (rulesChange && (await pollHasVotes(tx, input.projectId, input.name))) {
      throw new ClickvoteError(
        'poll_definition_conflict',
        `Poll "${input.name}" already has votes; its kind and scale (${existing.kind} ${existing.min}..${existing.max}) cannot change.`,
      );
    }
    // The count is kept only under a limit: counted when one is set, dropped when it goes.
    const targetCount = maxTargets === null ? { target_count: null } : existing.maxTargets === null ? { target_count: await countTargets(tx, input.projectId, input.name) } : {};
    await tx.updateTable('polls').set({ ...values, ...targetCount }).where('project_id', '=', input.projectId).where('name', '=', input.name).execute();
    return { change: 'updated', poll: { ...existing, ...rules, maxTargets } };
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

async function countTargets(db: Kysely<Database>, projectId: string, name: string): Promise<number> {
  const row = await db
    .selectFrom('ballots')
    .select((eb) => eb.fn.count<string>('target').distinct().as('n'))
    .where('project_id', '=', projectId)
    .where('poll', '=', name)
    .executeTakeFirstOrThrow();
  return Number(row.n);
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

const pollArchived = (name: string) =>
  new ClickvoteError('poll_archived', `Poll "${name}" is archived; its history stays but it cannot be redefined.`);
