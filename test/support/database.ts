import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, openPglite, openPostgres } from '../../src/platform/database.js';
import { migrateToLatest } from '../../src/platform/migrate.js';

export interface TestDatabase extends DatabaseHandle {
  /** Connection string of this file's own database; undefined on PGlite. */
  readonly url: string | undefined;
  /** Drops this file's database (only its own) and closes connections. */
  dispose(): Promise<void>;
}

let containerUrl: Promise<string | undefined> | undefined;

/**
 * A fresh, migrated database for one test file: a new database on TEST_DATABASE_URL's server,
 * else on a testcontainers PostgreSQL when a Docker engine answers, else an in-memory PGlite.
 */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL ?? (await startContainer());
  if (serverUrl === undefined) return createPgliteTestDatabase();
  return createPostgresTestDatabase(serverUrl, options.poolSize ?? 10);
}

export async function createPgliteTestDatabase(): Promise<TestDatabase> {
  const handle = await openPglite();
  await migrateToLatest(handle.db);
  return { ...handle, url: undefined, dispose: () => handle.close() };
}

/** The PostgreSQL server tests can use, if any: TEST_DATABASE_URL or a container. */
export async function postgresServerUrl(): Promise<string | undefined> {
  return process.env.TEST_DATABASE_URL ?? (await startContainer());
}

/** PostgreSQL (when a server is available) and PGlite: for suites that must pass on both. */
export async function testEngines(poolSize = 8): Promise<{ engine: string; open: () => Promise<TestDatabase> }[]> {
  const serverUrl = await postgresServerUrl();
  return [
    ...(serverUrl === undefined ? [] : [{ engine: 'postgres', open: () => createPostgresTestDatabase(serverUrl, poolSize) }]),
    { engine: 'pglite', open: () => createPgliteTestDatabase() },
  ];
}

export async function createPostgresTestDatabase(serverUrl: string, poolSize = 10): Promise<TestDatabase> {
  const name = `cv_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = withDatabase(serverUrl, name);
  const handle = openPostgres(url, poolSize);
  await migrateToLatest(handle.db);
  return {
    ...handle,
    url,
    dispose: async () => {
      await handle.close();
      await withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** A new database with no schema, for a process that migrates it itself; dispose drops it. */
export async function createEmptyPostgresDatabase(serverUrl: string): Promise<{ url: string; dispose(): Promise<void> }> {
  const name = `cv_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}`));
  return {
    url: withDatabase(serverUrl, name),
    dispose: () => withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

async function withAdminClient<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function startContainer(): Promise<string | undefined> {
  containerUrl ??= (async () => {
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:17-alpine').start();
      return container.getConnectionUri();
    } catch (error) {
      console.warn(
        `\n*** No TEST_DATABASE_URL and no Docker engine (${String(error).split('\n')[0]}): tests use PGlite instead of PostgreSQL ***\n`,
      );
      return undefined;
    }
  })();
  return containerUrl;
}
