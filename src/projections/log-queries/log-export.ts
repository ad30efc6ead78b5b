import { type Kysely, sql } from 'kysely';
import type { Database } from '../../platform/database.js';
import { definitionTables, exportFormat } from '../../platform/backup-format.js';
import { exportAuditEvents } from './audit-log.js';

/**
 * Writes the whole database as export lines, from one consistent snapshot, in constant memory:
 * every event committed when it began, even those a transaction still running keeps from the
 * projector (the snapshot is fixed, so no later commit can slip in between pages).
 * `write` answering false (the reader went away) ends the export.
 */
export async function exportLog(db: Kysely<Database>, write: (lines: readonly string[]) => Promise<boolean>, exportedAt = new Date()): Promise<void> {
  await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (tx) => {
      if (!(await write([JSON.stringify({ ...exportFormat, exportedAt: exportedAt.toISOString() })]))) return;
      for (const table of await definitionTables(tx)) {
        const { rows } = await sql<{ line: string }>`
          select json_build_object('table', ${table}::text, 'row', to_jsonb(t))::text as line from ${sql.table(table)} t order by 1
        `.execute(tx);
        if (rows.length > 0 && !(await write(rows.map((row) => row.line)))) return;
      }
      const projects = await tx.selectFrom('projects').select('id').orderBy('id').execute();
      for (const { id } of projects) {
        if (!(await write([JSON.stringify({ eventsOf: id })]))) return;
        let open = true;
        await exportAuditEvents(tx, { projectId: id }, undefined, async (lines) => (open = await write(lines)), { wholeSnapshot: true });
        if (!open) return;
      }
    });
}
