import { type Kysely, sql } from 'kysely';
import { type PollKey, pollIdOf } from '../domain/identity-keys.js';
import { type PollDefinition, type PollKind, pollNotFound } from '../domain/poll.js';
import type { Database } from '../platform/database.js';

/** Poll reads, shared by the write path and the read side (neither imports the other). */
export interface PollView extends PollDefinition {
  readonly createdAt: Date;
  readonly archivedAt: Date | null;
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

/** Many polls in one round trip, keyed by `pollIdOf`; polls that do not exist are absent. */
export async function readPolls(db: Kysely<Database>, polls: readonly PollKey[]): Promise<Map<string, PollView>> {
  const found = new Map<string, PollView>();
  if (polls.length === 0) return found;
  const { rows } = await sql<PollRow & { project_id: string }>`
    select p.* from polls p
    join unnest(${polls.map((poll) => poll.projectId)}::uuid[], ${polls.map((poll) => poll.poll)}::text[]) as w(project_id, name)
      on p.project_id = w.project_id and p.name = w.name
  `.execute(db);
  for (const row of rows) found.set(pollIdOf({ projectId: row.project_id, poll: row.name }), toPollView(row));
  return found;
}

interface PollRow {
  name: string;
  kind: string;
  min_value: number;
  max_value: number;
  max_targets: number | null;
  created_at: Date;
  archived_at: Date | null;
}

function toPollView(row: PollRow): PollView {
  return {
    name: row.name,
    kind: row.kind as PollKind,
    min: row.min_value,
    max: row.max_value,
    maxTargets: row.max_targets,
    archived: row.archived_at !== null,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  };
}
