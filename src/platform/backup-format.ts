import { type Kysely, sql } from 'kysely';
import type { Database } from './database.js';

/**
 * A logical backup as NDJSON, one JSON value a line, in this order:
 *
 *   {"format":"clickvote-export","version":1,"exportedAt":"…"}
 *   {"table":"projects","row":{…}}        every row of every definition table (projects, polls,
 *   {"table":"polls","row":{…}}            and whatever later migrations add), parents first
 *   {"eventsOf":"<project id>"}           then, project by project, a marker and the project's
 *   {"eventId":"…","position":"…",…}      events: the very lines the audit export answers
 *
 * Left out, because the import's append path rebuilds them or they only matter for a while:
 * `ballots` (rebuilt from the events), `idempotency_keys` (first answers to retried requests).
 */
export const exportFormat = { format: 'clickvote-export', version: 1 } as const;

/** Tables that are the log, or follow from it, or are the migrator's own: never exported as rows. */
const notDefinitions = new Set(['vote_events', 'ballots', 'idempotency_keys', 'kysely_migration', 'kysely_migration_lock']);

/** The tables exported row by row, parents before the tables that refer to them. */
export async function definitionTables(db: Kysely<Database>): Promise<string[]> {
  const { rows: tables } = await sql<{ name: string }>`
    select table_name::text as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name
  `.execute(db);
  const { rows: references } = await sql<{ child: string; parent: string }>`
    select child.relname::text as child, parent.relname::text as parent
    from pg_constraint c join pg_class child on child.oid = c.conrelid join pg_class parent on parent.oid = c.confrelid
    where c.contype = 'f' and child.relnamespace = current_schema()::regnamespace
  `.execute(db);
  const names = tables.map((table) => table.name).filter((name) => !notDefinitions.has(name));
  const ordered: string[] = [];
  const visit = (name: string, path: readonly string[]) => {
    if (ordered.includes(name) || path.includes(name)) return;
    for (const { parent } of references.filter((reference) => reference.child === name)) {
      if (names.includes(parent)) visit(parent, [...path, name]);
    }
    ordered.push(name);
  };
  for (const name of names) visit(name, []);
  return ordered;
}
