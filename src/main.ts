import path from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type DemoProject, ensureDemoProject } from './commands/demo-project.js';
import { type Config, ConfigError, loadConfig } from './platform/config.js';
import { claimDataDir, DataDirInUseError } from './platform/data-dir-owner.js';
import { type DatabaseHandle, openPglite, openPostgres } from './platform/database.js';
import { ListenError } from './platform/http-server.js';
import { countDroppedLogLines, createLogger, LogOutput } from './platform/logger.js';
import { migrateToLatest } from './platform/migrate.js';
import { onTerminationSignal } from './platform/shutdown.js';
import { openReadSide } from './projections/tallies/read-side.js';
import { type Service, type ServiceConnections, startService } from './service.js';

/** The composition root: the only module that reads the environment and opens connections. */
async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logOutput = new LogOutput();
  const logger = createLogger(config.LOG_LEVEL, logOutput);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  countDroppedLogLines(registry, logOutput);
  const database = await openDatabase(config, logger);
  if (config.migrateOnStart) await migrateToLatest(database.db);
  const readSide = await openReadSide(config.redis, config.REDIS_KEY_PREFIX, logger, {
    replicasToAcknowledge: config.REDIS_REPLICAS_TO_ACKNOWLEDGE,
    partitions: config.PROJECTOR_PARTITIONS,
  });
  const demo = config.createDemoProject && config.ROLE !== 'projector' ? await ensureDemoProject(database.db, config.DATA_DIR) : undefined;

  const service = await startServiceOrExit(config, { database, readSide, logger, registry }, demo);
  const address = `http://localhost:${config.PORT}`;
  logger.info({ address, internalPort: config.INTERNAL_PORT, role: config.ROLE, database: database.engine, readModel: readSide.inProcess ? 'in-process' : 'redis' }, 'clickvote listening');
  if (demo !== undefined) printDemo(demo, address);

  // The service stops first (HTTP drained, votes appended, projector done), then the pools
  // close: all within 10 seconds.
  onTerminationSignal(
    async (signal) => {
      await service.close(signal);
      await readSide.close();
      await database.close();
      logger.info('stopped');
      await logOutput.flush(1000);
    },
    10_000,
    () => logger.error('shutdown took longer than 10 s; exiting anyway'),
  );
}

async function startServiceOrExit(config: Config, connections: ServiceConnections, demo: DemoProject | undefined): Promise<Service> {
  try {
    return await startService(config, connections, { demoPublicKey: demo?.publicKey });
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    exitWith(error.message);
  }
}

function readConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWith(error.message);
  }
}

/** One clear line instead of a stack trace, for what the operator can fix. */
function exitWith(message: string): never {
  console.error(message);
  process.exit(1);
}

async function openDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  if (config.DATABASE_URL !== undefined) {
    return openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE, (error) =>
      logger.warn({ err: error }, 'database connection lost; the pool opens a new one when needed'),
    );
  }
  const releaseDataDir = await claimDataDirOrExit(config.DATA_DIR, logger);
  const handle = await openPglite(path.resolve(config.DATA_DIR, 'pglite'));
  return { ...handle, close: () => handle.close().finally(releaseDataDir) };
}

async function claimDataDirOrExit(dataDir: string, logger: Logger): Promise<() => Promise<void>> {
  try {
    return await claimDataDir(dataDir, (error) => {
      logger.fatal({ err: error }, 'lost the DATA_DIR lock; exiting so that only one process writes there');
      process.exit(1);
    });
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    exitWith(error.message);
  }
}

/** The secret key is printed once, when the project is created: logs are kept and shipped. */
function printDemo(project: DemoProject, address: string): void {
  const auth = `-H 'Authorization: Bearer ${project.publicKey}'`;
  const secret = project.created ? project.secretKey : 'printed when the project was created; kept in DATA_DIR/demo-project.json';
  console.log(`
Demo project ready (keys kept in DATA_DIR/demo-project.json):
  public key: ${project.publicKey}
  secret key: ${secret}

Cast a vote:
  curl -s -X POST ${address}/v1/polls/likes/votes ${auth} \\
       -H 'Content-Type: application/json' -d '{"target":"post-1","voter":"alice","value":1}'
Read the tally:
  curl -s ${address}/v1/polls/likes/tallies/post-1 ${auth}
Try the widget: ${address}/demo
`);
}

await main();
