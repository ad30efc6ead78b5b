import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/platform/database.js';
import { type RedisClient, unlinkMatching } from '../src/platform/redis.js';
import { RedisKeys } from '../src/projections/tallies/redis-keys.js';
import { type DatabaseHandle, openPostgres } from '../src/platform/database.js';
import { migrateToLatest } from '../src/platform/migrate.js';

export const benchRedisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const benchServerUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

/** A throw-away migrated database on the bench server, dropped by `dispose`. */
export async function createBenchDatabase(poolSize: number): Promise<DatabaseHandle & { url: string; dispose(): Promise<void> }> {
  const name = `cv_bench_${randomBytes(5).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(benchServerUrl);
  url.pathname = `/${name}`;
  const handle = openPostgres(url.toString(), poolSize);
  await migrateToLatest(handle.db);
  return {
    ...handle,
    url: url.toString(),
    dispose: async () => {
      await handle.close();
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** Runs `work` on a connection to the bench server's maintenance database (create and drop databases). */
export async function admin(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: benchServerUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `callers` loops that each call `once` until `total` calls are done; returns calls per second. */
export async function runClosedLoop(callers: number, total: number, once: (index: number) => Promise<unknown>): Promise<number> {
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (issued < total) {
        const index = issued;
        issued += 1;
        await once(index);
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}



/**
 * Fills the log with votes from distinct voters on targets drawn log-uniformly (Zipf, s = 1),
 * committed 1,000 to a transaction, straight in SQL. With `polls` > 1 the votes go round polls
 * `<poll>-0` … `<poll>-<polls - 1>` in turn.
 */
export async function fillZipfLog(db: Kysely<Database>, projectId: string, events: number, targets: number, poll = 'votes', polls = 1): Promise<void> {
  const perTransaction = 1000;
  await sql`
    do $$
    declare chunk integer;
    begin
      for chunk in 0..${sql.lit(Math.ceil(events / perTransaction) - 1)} loop
        insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at)
        select gen_random_uuid(), ${sql.lit(projectId)}::uuid, ${polls === 1 ? sql.lit(poll) : sql`${sql.lit(`${poll}-`)} || (i % ${sql.lit(polls)})`},
               't' || (floor(exp(random() * ln(${sql.lit(targets)}::float8))) - 1)::int, 'v' || (chunk * ${sql.lit(perTransaction)} + i),
               1, 'VoteCast', case when random() < 0.7 then 1 else -1 end, 0, now()
        from generate_series(1, least(${sql.lit(perTransaction)}, ${sql.lit(events)} - chunk * ${sql.lit(perTransaction)})) as i;
        commit;
      end loop;
    end $$
  `.execute(db);
}

/** The baseline for reading the log: one plain ordered SELECT of every event, rows discarded. */
export async function readWholeLog(url: string, projectId?: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query({
      text: `select transaction_id::text, global_position::text, event_id, project_id, poll, target, voter, value, previous, recorded_at, metadata
             from vote_events ${projectId === undefined ? '' : 'where project_id = $1'} order by transaction_id, global_position`,
      values: projectId === undefined ? [] : [projectId],
      rowMode: 'array',
    });
    return result.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Removes every key a benchmark wrote under its own prefix. */
export async function deleteBenchKeys(redis: RedisClient, prefix: string): Promise<void> {
  for (const pattern of RedisKeys.everyKeyPatterns(prefix)) {
    await unlinkMatching(redis, pattern);
  }
}
