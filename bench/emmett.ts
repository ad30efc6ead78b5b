import { randomBytes, randomUUID } from 'node:crypto';
import { type Event, STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import type { Contender } from './http-load.js';
import { admin, benchServerUrl } from './support.js';

type VoteCast = Event<'VoteCast', { poll: string; target: string; voter: string; value: number }>;

/**
 * The baseline for the HTTP vote path: Emmett's PostgreSQL event store (no HTTP, no validation,
 * no read of prior state) appending one event to a new stream per call, from `callers` loops,
 * against a fresh database of its own. Its pool has as many connections as the API's
 * (DATABASE_POOL_SIZE, 10 by default).
 */
export async function openEmmettAppends(callers: number, poolSize = 10): Promise<{ contender: Contender; close(): Promise<void> }> {
  const database = await createEmptyDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: poolSize });
  pool.on('error', () => {}); // a connection ended while idle: nothing to do with what is measured
  const store = getPostgreSQLEventStore(database.url, { connectionOptions: { pool } });
  const close = async () => {
    await store.close();
    await pool.end();
    await database.drop();
  };
  const append = () =>
    store.appendToStream<VoteCast>(
      `ballot-${randomUUID()}`,
      [{ type: 'VoteCast', data: { poll: 'votes', target: `t${Math.floor(Math.random() * 1000)}`, voter: randomUUID(), value: 1 } }],
      { expectedStreamVersion: STREAM_DOES_NOT_EXIST },
    );
  try {
    await store.schema.migrate();
    await append(); // warm: the first call prepares the store's statements
  } catch (error) {
    await close();
    throw error;
  }
  const contender: Contender = async (seconds) => {
    let done = 0;
    let failed = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < until) {
          try {
            await append();
            done += 1;
          } catch {
            failed += 1;
          }
        }
      }),
    );
    return { done, failed, seconds: (performance.now() - started) / 1000, p99: Number.NaN, cpuMs: Number.NaN };
  };
  return { contender, close };
}

async function createEmptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cv_bench_emmett_${randomBytes(5).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(benchServerUrl);
  url.pathname = `/${name}`;
  const drop = () =>
    admin(async (client) => {
      // Emmett may still be closing connections of its own; forcing them would fail its clients.
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const { rows } = await client.query('select count(*)::int as open from pg_stat_activity where datname = $1', [name]);
        if (rows[0].open === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await client.query(`drop database if exists ${name} with (force)`);
    });
  return { url: url.toString(), drop };
}
