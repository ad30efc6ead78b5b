import { Router } from 'express';
import { type Kysely, sql } from 'kysely';
import type { Registry } from 'prom-client';
import { pendingMigrations } from '../platform/migrate.js';
import type { Database } from '../platform/database.js';

export function healthRoutes(db: Kysely<Database>, registry: Registry | undefined): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    if (registry === undefined) {
      res.status(404).end();
      return;
    }
    res.type(registry.contentType).send(await registry.metrics());
  });
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
