import type { Server } from 'node:http';
import path from 'node:path';
import { ensureDemoProject } from './commands/demo-project.js';
import { VoteAppender } from './commands/vote-appender.js';
import { createApp } from './http/app.js';
import { type Config, ConfigError, loadConfig } from './platform/config.js';
import { type DatabaseHandle, openPglite, openPostgres } from './platform/database.js';
import type { Logger } from 'pino';
import { createLogger } from './platform/logger.js';
import { migrateToLatest } from './platform/migrate.js';

/** The composition root: the only module that reads the environment and opens connections. */
async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config, logger);
  if (config.migrateOnStart) await migrateToLatest(database.db);

  const appender = new VoteAppender(database.db, {
    windowMs: config.APPEND_BATCH_WINDOW_MS,
    maxBatch: config.APPEND_MAX_BATCH,
    maxConcurrentBatches: config.APPEND_MAX_CONCURRENT_BATCHES,
  });
  const app = createApp({ db: database.db, appender, logger, adminToken: config.ADMIN_TOKEN });
  const server = app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const address = `http://localhost:${config.PORT}`;
  logger.info({ address, role: config.ROLE, database: database.engine }, 'clickvote listening');

  if (config.createDemoProject) printDemo(await ensureDemoProject(database.db, config.DATA_DIR), address);

  const stop = onceOnly(async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await closeServer(server);
    await appender.close();
    await database.close();
    logger.info('stopped');
    process.exit(0);
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function readConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

async function openDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  if (config.DATABASE_URL !== undefined) {
    return openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE, (error) =>
      logger.warn({ err: error }, 'idle database connection lost'),
    );
  }
  return openPglite(path.resolve(config.DATA_DIR, 'pglite'));
}

function printDemo(project: { publicKey: string; secretKey: string }, address: string): void {
  console.log(`
Demo project ready (keys kept in DATA_DIR/demo-project.json):
  public key: ${project.publicKey}
  secret key: ${project.secretKey}

Cast a vote:
  curl -s -X POST ${address}/v1/polls/likes/votes -H 'Authorization: Bearer ${project.publicKey}' \\
       -H 'Content-Type: application/json' -d '{"target":"post-1","voter":"alice","value":1}'
`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function onceOnly<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let running: Promise<void> | undefined;
  return (...args) => (running ??= action(...args));
}

await main();
