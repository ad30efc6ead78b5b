import { Router } from 'express';
import { type Kysely, sql } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { Database } from '../platform/database.js';
import { pendingMigrations } from '../platform/migrate.js';
import type { RedisClient } from '../platform/redis.js';

export interface Readiness {
  /** The Redis read model, when this process uses one. */
  readonly redis?: RedisClient | undefined;
  /** True from the moment the process was asked to stop: load balancers should move away. */
  readonly stopping: () => boolean;
}

export function healthRoutes(db: Kysely<Database>, registry: Registry | undefined, readiness: Readiness): Router {
  const router = Router();
  const checkReadiness = () => readinessOf(db, readiness);
  // Readiness as a metric too, so an alert can see a process that is up but not ready. Registered
  // once per registry: with INTERNAL_PORT both the public and the internal app serve health.
  if (registry !== undefined && registry.getSingleMetric('clickvote_ready') === undefined) {
    new Gauge({
      name: 'clickvote_ready',
      help: '1 when this process answers /readyz with 200, else 0 (checked at each scrape)',
      registers: [registry],
      async collect() {
        this.set((await checkReadiness()).ready ? 1 : 0);
      },
    });
  }

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
    const { ready, checks } = await checkReadiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });

  return router;
}

async function readinessOf(db: Kysely<Database>, readiness: Readiness) {
  const [database, migrations, redis] = await Promise.all([
    check(() => sql`select 1`.execute(db)),
    check(async () => (await pendingMigrations(db)).length === 0),
    readiness.redis === undefined ? Promise.resolve(undefined) : check(async () => (await readiness.redis!.ping()) === 'PONG'),
  ]);
  const checks = { database, migrations, ...(redis === undefined ? {} : { redis }), stopping: readiness.stopping() };
  return { ready: database && migrations && redis !== false && !checks.stopping, checks };
}

async function check(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    return (await probe()) !== false;
  } catch {
    return false;
  }
}
