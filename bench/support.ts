import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, openPostgres } from '../src/platform/database.js';
import { migrateToLatest } from '../src/platform/migrate.js';

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

async function admin(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
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

export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const formatRate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');
