import type { Kysely, MigrationResult } from 'kysely';
import { Migrator, sql } from 'kysely';
import { migrations } from '../../migrations/index.js';

function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

/**
 * Applies every pending migration, then re-bases a restored log whose transaction ids lie beyond
 * this cluster's (see the rebase migration): a dump taken after that migration ran needs it too.
 */
export async function migrateToLatest(db: Kysely<any>, onRebased?: (events: number) => void): Promise<MigrationResult[]> {
  const { error, results } = await createMigrator(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
  const { rows } = await sql<{ rebased: string }>`select rebase_restored_vote_log()::text as rebased`.execute(db);
  const rebased = Number(rows[0]!.rebased);
  if (rebased > 0) onRebased?.(rebased);
  return results ?? [];
}

/** Names of migrations that exist but have not been applied. Readiness needs none. */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const known = await createMigrator(db).getMigrations();
  return known.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}
