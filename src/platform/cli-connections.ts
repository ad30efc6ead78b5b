import { type Config, ConfigError, loadConfig } from './config.js';
import { claimDataDir, DataDirInUseError } from './data-dir-owner.js';
import path from 'node:path';
import { type DatabaseHandle, openPglite, openPostgres } from './database.js';
import { connectRedis, type RedisClient } from './redis.js';

export interface CliConnections {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly redis: RedisClient;
  close(): Promise<void>;
}

/** The connections the operator commands on the read model (replay, verify) need: PostgreSQL and Redis, from the environment. */
export async function openCliConnections(command: string): Promise<CliConnections> {
  const config = loadConfigOrExit();
  if (config.DATABASE_URL === undefined || config.redis === undefined) {
    exitWith(`${command} works on the Redis read model: set DATABASE_URL and REDIS_URL or REDIS_CLUSTER_NODES (the embedded one is rebuilt at every start)`);
  }
  const database = openPostgres(config.DATABASE_URL, 4);
  const redis = await connectRedis(config.redis);
  return {
    config,
    database,
    redis,
    close: async () => {
      await redis.quit();
      await database.close();
    },
  };
}

/** The database alone (export, import): DATABASE_URL, or the embedded PGlite under DATA_DIR, owned as `npm start` owns it. */
export async function openCliDatabase(): Promise<DatabaseHandle> {
  const config = loadConfigOrExit();
  if (config.DATABASE_URL !== undefined) return openPostgres(config.DATABASE_URL, 2);
  let release: () => Promise<void>;
  try {
    release = await claimDataDir(config.DATA_DIR, (error) => exitWith(`lost DATA_DIR ${config.DATA_DIR}: ${error.message}`));
  } catch (error) {
    if (error instanceof DataDirInUseError) exitWith(error.message);
    throw error;
  }
  const handle = await openPglite(path.resolve(config.DATA_DIR, 'pglite'));
  return { ...handle, close: () => handle.close().finally(release) };
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message);
    throw error;
  }
}

function exitWith(message: string): never {
  console.error(message);
  process.exit(2);
}
