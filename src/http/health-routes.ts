import { Router } from 'express';
import { type Kysely, sql } from 'kysely';
import { pendingMigrations } from '../platform/migrate.js';
import type { Database } from '../platform/database.js';

export function healthRoutes(db: Kysely<Database>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks = { database: false, migrations: false };
    try {
      await sql`select 1`.execute(db);
      checks.database = true;
      checks.migrations = (await pendingMigrations(db)).length === 0;
    } catch {
      // The failing check stays false; readiness reports it rather than throwing.
    }
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
