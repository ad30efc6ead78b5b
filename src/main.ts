import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { PollCache } from './catalog/poll-cache.js';
import { newVotesChannel } from './commands/append-votes.js';
import { createAppendMetrics } from './commands/append-metrics.js';
import { type DemoProject, ensureDemoProject } from './commands/demo-project.js';
import { defaultIdempotencyKeyTtlSeconds, expireIdempotencyKeys } from './commands/idempotency-keys.js';
import { VoteAppender } from './commands/vote-appender.js';
import { type AppDependencies, createApp } from './http/app.js';
import { createInternalApp } from './http/internal-app.js';
import { RateLimits } from './http/rate-limits.js';
import { type Config, ConfigError, loadConfig } from './platform/config.js';
import { claimDataDir, DataDirInUseError } from './platform/data-dir-owner.js';
import { type DatabaseHandle, openPglite, openPostgres } from './platform/database.js';
import { countDroppedLogLines, createLogger, LogOutput } from './platform/logger.js';
import { migrateToLatest } from './platform/migrate.js';
import { type HttpTimeouts, listenHttp } from './platform/http-server.js';
import { drainHttpServer, onTerminationSignal } from './platform/shutdown.js';
import { type EmbeddedCeiling, embeddedCapacityCheck } from './projections/tallies/embedded-capacity.js';
import { PostgresLeadership } from './projections/tallies/leadership.js';
import { MemoryTallyStore } from './projections/tallies/memory-tally-store.js';
import { inProcessProjectionAdmin, redisProjectionAdmin } from './projections/operations/projection-admin.js';
import { ProjectionProgress } from './projections/tallies/projection-progress.js';
import { Projector } from './projections/tallies/projector.js';
import { createProjectorMetrics, createRebuildMetrics } from './projections/tallies/projector-metrics.js';
import { openReadSide, type ReadSide } from './projections/tallies/read-side.js';
import { TallyQueries } from './projections/tallies/tally-queries.js';
import { TallyStreamHub } from './projections/realtime/tally-stream-hub.js';

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
  const readSide = await openReadSide(config.REDIS_URL, config.REDIS_KEY_PREFIX, logger);
  const runsApi = config.ROLE !== 'projector';
  const runsProjector = config.ROLE !== 'api';
  const polls = new PollCache(database.db, { cacheMs: 5000 });

  const projector = new Projector({
    db: database.db,
    polls,
    store: readSide.store,
    feed: readSide.feed,
    metrics: createProjectorMetrics(registry),
    logger: logger.child({ component: 'projector' }),
    batchSize: config.PROJECTOR_BATCH_SIZE,
    pollIntervalMs: config.PROJECTOR_POLL_INTERVAL_MS,
    // The in-process store is its own cache; Redis is spared reading back hot tallies.
    tallyCacheSize: readSide.inProcess ? 0 : 100_000,
  });
  if (readSide.inProcess) logger.info({ events: await projector.catchUp() }, 'in-process read model rebuilt from the log');
  const ceiling = { maxTargets: config.EMBEDDED_MAX_TARGETS, maxBallots: config.EMBEDDED_MAX_BALLOTS };
  if (readSide.store instanceof MemoryTallyStore) warnWhenFull(readSide.store, ceiling, logger);

  const appender = runsApi
    ? new VoteAppender(database.db, {
        windowMs: config.APPEND_BATCH_WINDOW_MS,
        maxBatch: config.APPEND_MAX_BATCH,
        maxConcurrentBatches: config.APPEND_MAX_CONCURRENT_BATCHES,
        idempotencyKeyTtlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS,
        metrics: createAppendMetrics(registry),
        // In one process the projector hears about new votes directly, NOTIFY or not.
        onBatchAppended: runsProjector ? () => projector.wake() : undefined,
        admit: readSide.store instanceof MemoryTallyStore ? embeddedCapacityCheck(readSide.store, ceiling) : undefined,
      })
    : undefined;
  const hub = runsApi ? new TallyStreamHub(readSide.feed) : undefined;
  const queries =
    hub === undefined
      ? undefined
      : new TallyQueries(polls, readSide.store, {
          progress: new ProjectionProgress(() => readSide.store.readCheckpoint(), (listener) => hub.follow(listener), { maxWaiters: config.MIN_POSITION_MAX_WAITERS }),
        });

  const stopProjecting = new AbortController();
  const leadership =
    runsProjector && config.DATABASE_URL !== undefined
      ? new PostgresLeadership(config.DATABASE_URL, logger, { wakeUp: { channel: newVotesChannel, onNotification: () => projector.wake() } })
      : undefined;
  const projecting = !runsProjector
    ? Promise.resolve()
    : leadership === undefined
      ? projector.run(stopProjecting.signal)
      : leadership.lead((termEnded, nextEpoch) => projector.lead(nextEpoch, termEnded), stopProjecting.signal);
  // Every projector process may run it: deleting what another already deleted costs nothing.
  const expiringKeys = runsProjector
    ? expireIdempotencyKeys(
        database.db,
        { ttlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS ?? defaultIdempotencyKeyTtlSeconds, intervalMs: 60_000, batchSize: 1000, logger: logger.child({ component: 'idempotency-keys' }) },
        stopProjecting.signal,
      )
    : Promise.resolve();

  const demo = config.createDemoProject && runsApi ? await ensureDemoProject(database.db, config.DATA_DIR) : undefined;
  const stopping = new AbortController();
  const deps: AppDependencies = {
    hub,
    demoPublicKey: demo?.publicKey,
    stopping: stopping.signal,
    db: database.db,
    appender,
    queries,
    projections: projectionAdmin(config, database, readSide, logger, registry),
    logger,
    adminToken: config.ADMIN_TOKEN,
    registry,
    readiness: { redis: readSide.redis, stopping: () => stopping.signal.aborted },
    clientAddressKey: clientAddressKey(config, logger),
    trustProxy: config.TRUST_PROXY,
    rateLimits: rateLimitsOf(config, readSide),
    streamLimits: {
      maxStreams: config.REALTIME_MAX_STREAMS,
      maxStreamsPerClient: config.REALTIME_MAX_STREAMS_PER_CLIENT,
      maxStreamsPerKey: config.REALTIME_MAX_STREAMS_PER_KEY,
      maxTargets: config.REALTIME_MAX_TARGETS,
    },
  };
  const app = createApp({ ...deps, internalRoutesElsewhere: config.INTERNAL_PORT !== undefined });
  const server = await listenOrExit(app, config.PORT, config.HOST, httpTimeouts(config));
  const internalServer =
    config.INTERNAL_PORT === undefined ? undefined : await listenOrExit(createInternalApp(deps), config.INTERNAL_PORT, config.HOST, httpTimeouts(config));
  const address = `http://localhost:${config.PORT}`;
  logger.info({ address, internalPort: config.INTERNAL_PORT, role: config.ROLE, database: database.engine, readModel: readSide.inProcess ? 'in-process' : 'redis' }, 'clickvote listening');
  if (demo !== undefined) printDemo(demo, address);

  // Readiness turns 503 at once; then HTTP drains, accepted votes are appended, the projector
  // finishes its batch and lets a standby lead, and the pools close: all within 10 seconds.
  onTerminationSignal(
    async (signal) => {
      stopping.abort();
      logger.info({ signal }, 'shutting down');
      await Promise.all([drainHttpServer(server, 7000), internalServer && drainHttpServer(internalServer, 7000)]);
      await hub?.close();
      await appender?.close();
      stopProjecting.abort();
      await projecting.catch(() => {});
      await expiringKeys;
      await readSide.close();
      await database.close();
      logger.info('stopped');
      await logOutput.flush(1000);
    },
    10_000,
    () => logger.error('shutdown took longer than 10 s; exiting anyway'),
  );
}

function projectionAdmin(config: Config, database: DatabaseHandle, readSide: ReadSide, logger: Logger, registry: Registry) {
  if (readSide.redis === undefined) return inProcessProjectionAdmin({ db: database.db, store: readSide.store });
  return redisProjectionAdmin({
    db: database.db,
    store: readSide.store,
    redis: readSide.redis,
    prefix: config.REDIS_KEY_PREFIX,
    logger,
    batchSize: config.PROJECTOR_BATCH_SIZE,
    metrics: createRebuildMetrics(registry),
  });
}

function httpTimeouts(config: Config): HttpTimeouts {
  return {
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  };
}

function warnWhenFull(store: MemoryTallyStore, ceiling: EmbeddedCeiling, logger: Logger): void {
  const size = store.size();
  if (size.targets >= ceiling.maxTargets || size.ballots >= ceiling.maxBallots) {
    logger.warn({ ...size, ceiling }, 'the embedded read model is at its ceiling: votes on new targets or by new voters get 507 (EMBEDDED_MAX_TARGETS, EMBEDDED_MAX_BALLOTS)');
  }
}

function clientAddressKey(config: Config, logger: Logger): Buffer {
  if (config.CLIENT_ADDRESS_HASH_KEY !== undefined) return Buffer.from(config.CLIENT_ADDRESS_HASH_KEY);
  if (config.ROLE !== 'projector') logger.warn('CLIENT_ADDRESS_HASH_KEY is not set: client address hashes will differ after a restart');
  return randomBytes(32);
}

function rateLimitsOf(config: Config, readSide: ReadSide): RateLimits {
  return new RateLimits({
    enabled: config.RATE_LIMITS === 'on',
    settings: {
      votesPerAddress: config.RATE_LIMIT_VOTES_PER_ADDRESS,
      votesPerVoter: config.RATE_LIMIT_VOTES_PER_VOTER,
      votersPerAddress: config.RATE_LIMIT_VOTERS_PER_ADDRESS,
    },
    redis: readSide.redis,
    keyPrefix: config.REDIS_KEY_PREFIX,
  });
}

function readConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWith(error.message);
  }
}

async function listenOrExit(app: ReturnType<typeof createApp>, port: number, host: string, timeouts: HttpTimeouts): Promise<Server> {
  try {
    return await listenHttp(app, port, host, timeouts);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') exitWith(`Cannot listen on ${host}:${port}: the port is in use by another process (set PORT or HOST)`);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') exitWith(`Cannot listen on ${host}:${port}: ${code} (set PORT or HOST)`);
    throw error;
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
