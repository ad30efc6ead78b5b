import { createInterface } from 'node:readline';
import { openCliDatabase } from '../platform/cli-connections.js';
import { pendingMigrations } from '../platform/migrate.js';
import { ImportError, importLog } from './log-import.js';

/** `npm run import < backup.ndjson`: loads an export into an empty, migrated database (see log-import.ts). */
const database = await openCliDatabase();
try {
  const pending = await pendingMigrations(database.db);
  if (pending.length > 0) throw new ImportError(`the database is not migrated (${pending.join(', ')} pending): run npm run migrate first`);
  const report = await importLog(database.db, createInterface({ input: process.stdin, crlfDelay: Infinity }));
  const rows = Object.entries(report.rows).map(([table, count]) => `${count} ${table}`).join(', ');
  console.log(`Imported ${rows || 'no definition rows'} and ${report.events} events.`);
  console.log('The read model follows from the log: start the projector (or run npm run replay), then npm run verify.');
} catch (error) {
  console.error(`import failed: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof ImportError)) console.error(error);
  process.exitCode = 1;
} finally {
  await database.close();
}
