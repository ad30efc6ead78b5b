import type { Kysely } from 'kysely';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { type Database, openPostgres } from '../../src/platform/database.js';
import { migrateToLatest } from '../../src/platform/migrate.js';
import { type BuiltService, startBuiltService } from '../support/built-service.js';
import { createTestDatabase } from '../support/database.js';
import { countVoteEvents, givenProjectWithPolls } from '../support/fixtures.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';
import { startScratchPostgres } from '../support/scratch-postgres.js';
import { type Answer, expectAnsweredVotesLogged, expectTalliesToMatchBallots, startVoteLoad, type VoteLoad } from '../support/vote-load.js';

/** The built service, API and projector in one process, as ROLE=all runs it against PostgreSQL and Redis. */
const startService = (databaseUrl: string, redis: TestRedis) =>
  startBuiltService({
    ROLE: 'all',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    MIGRATE_ON_START: 'false',
    CREATE_DEMO_PROJECT: 'false',
    PROJECTOR_POLL_INTERVAL_MS: '200',
  });

const acknowledgedAfter = (answers: readonly Answer[], since: number) => answers.filter((a) => a.at > since && a.status === 200).length;
const until = (check: () => unknown | Promise<unknown>, timeout = 60_000) => vi.waitFor(check, { timeout, interval: 100 });
const readiness = async (service: BuiltService) => {
  const response = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, database: ((await response.json()) as { checks: { database: boolean } }).checks.database };
};

/** What every fault here must leave: a live process, no 500, every acknowledged vote logged, tallies caught up. */
async function expectNothingLost(service: BuiltService, load: VoteLoad, db: Kysely<Database>, projectId: string, publicKey: string) {
  expect(service.running()).toBe(true);
  expect(load.unanswered).toBe(0);
  const withStatus = (status: number) => load.answers.filter((answer) => answer.status === status);
  expect(load.answers.filter((answer) => answer.status !== 200 && answer.status !== 503)).toEqual([]);
  expect(withStatus(503).filter((answer) => answer.retryAfter === null)).toEqual([]);
  const missing = await expectAnsweredVotesLogged(db, projectId, load.answers);
  await until(async () => expect(await readiness(service)).toEqual({ status: 200, database: true }));
  // The projector and its leadership came back too: the tallies reach every vote in the log.
  await until(() => expectTalliesToMatchBallots(db, service.url, publicKey, projectId));
  return { acknowledged: withStatus(200).length, unavailable: withStatus(503).length, missing, events: await countVoteEvents(db) };
}

describe('the built service when PostgreSQL connections are lost', () => {
  it('stays up while the sessions of its database are terminated again and again under vote load', async (context) => {
    const database = await createTestDatabase();
    const redis = await createTestRedis();
    if (database.url === undefined || redis === undefined) {
      console.warn('\n*** No PostgreSQL server or no Redis: the pg_terminate_backend test is SKIPPED ***\n');
      context.skip();
    }
    const project = await givenProjectWithPolls(database.db, { likes: 'like' });
    const service = await startService(database.url!, redis!);
    const terminator = new pg.Client({ connectionString: database.url });
    terminator.on('error', () => {});
    await terminator.connect();
    try {
      const load = startVoteLoad(service.url, project.publicKey);
      await until(() => expect(acknowledgedAfter(load.answers, 0)).toBeGreaterThan(50));
      let faults = 0;
      for (let round = 0; round < 20; round += 1) {
        const { rows } = await terminator.query<{ ended: string }>(
          `select count(*) filter (where pg_terminate_backend(pid)) as ended from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
        );
        faults += Number(rows[0]!.ended);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const lastFault = performance.now();
      await until(() => expect(acknowledgedAfter(load.answers, lastFault)).toBeGreaterThan(50));
      await load.stop();
      const figures = await expectNothingLost(service, load, database.db, project.id, project.publicKey);
      console.log(`pg_terminate_backend: ${JSON.stringify({ sessionsTerminated: faults, ...figures })}`);
      expect(faults).toBeGreaterThanOrEqual(20);
      expect(await service.stop()).toBe(0);
    } finally {
      await service.stop('SIGKILL');
      await terminator.end();
      await redis!.dispose();
      await database.dispose();
    }
  }, 300_000);

  it('stays up while its PostgreSQL server goes down and comes back under vote load, and carries on by itself', async (context) => {
    const server = await startScratchPostgres();
    const redis = await createTestRedis();
    if (server === undefined || redis === undefined) {
      if (redis === undefined) console.warn('\n*** No Redis: the PostgreSQL restart test is SKIPPED ***\n');
      await server?.dispose();
      context.skip();
    }
    const handle = openPostgres(server!.url, 2);
    let service: BuiltService | undefined;
    try {
      await migrateToLatest(handle.db);
      const project = await givenProjectWithPolls(handle.db, { likes: 'like' });
      service = await startService(server!.url, redis!);
      const load = startVoteLoad(service.url, project.publicKey);
      await until(() => expect(acknowledgedAfter(load.answers, 0)).toBeGreaterThan(50));

      // A crash as clients see it, a clean shutdown that ends their sessions, and a crash again.
      const modes = ['immediate', 'fast', 'immediate'] as const;
      for (const mode of modes) {
        await server!.stop(mode);
        const down = performance.now();
        await until(async () => expect(await readiness(service!)).toEqual({ status: 503, database: false }));
        await until(() => expect(load.answers.filter((a) => a.at > down && a.status === 503).length).toBeGreaterThan(10));
        await server!.start();
        const up = performance.now();
        await until(() => expect(acknowledgedAfter(load.answers, up)).toBeGreaterThan(50));
      }
      await load.stop();

      const figures = await expectNothingLost(service, load, handle.db, project.id, project.publicKey);
      console.log(`PostgreSQL restarts: ${JSON.stringify({ restarts: modes.length, ...figures })}`);
      expect(await service.stop()).toBe(0);
    } finally {
      await service?.stop('SIGKILL');
      await handle.close();
      await redis!.dispose();
      await server!.dispose();
    }
  }, 300_000);
});
