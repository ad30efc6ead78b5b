import { loadConfig } from './config.js';
import { openPglite, openPostgres } from './database.js';
import { migrateToLatest } from './migrate.js';
import path from 'node:path';

/** `npm run migrate`: applies every pending migration to DATABASE_URL (or the embedded PGlite). */
const config = loadConfig(process.env);
const database =
  config.DATABASE_URL === undefined
    ? await openPglite(path.resolve(config.DATA_DIR, 'pglite'))
    : openPostgres(config.DATABASE_URL, 1);
try {
  const results = await migrateToLatest(database.db, (events) =>
    console.log(`Re-based ${events} restored events whose transaction ids lay beyond this cluster's: the projector and replay now see them.`),
  );
  for (const result of results) console.log(`${result.status}: ${result.migrationName}`);
  console.log(results.length === 0 ? 'Database is up to date.' : `Applied ${results.length} migration(s).`);
} finally {
  await database.close();
}
