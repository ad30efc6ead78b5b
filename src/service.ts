import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PollCache } from './catalog/poll-cache.js';
import { createAppendMetrics } from './commands/append-metrics.js';
import { newVotesChannel } from './commands/append-votes.js';
import { defaultIdempotencyKeyTtlSeconds, expireIdempotencyKeys } from './commands/idempotency-keys.js';
import { VoteAppender } from './commands/vote-appender.js';
import { type AppDependencies, createApp } from './http/app.js';
import { createInternalApp } from './http/internal-app.js';
import { RateLimits } from './http/rate-limits.js';
import type { Config } from './platform/config.js';
import type { DatabaseHandle } from './platform/database.js';
import { listenHttp } from './platform/http-server.js';
import { drainHttpServer } from './platform/shutdown.js';
import { inProcessProjectionAdmin, redisProjectionAdmin } from './projections/operations/projection-admin.js';
import { TallyStreamHub } from './projections/realtime/tally-stream-hub.js';
import { type EmbeddedCeiling, embeddedCapacityCheck } from './projections/tallies/embedded-capacity.js';
import { PostgresLeadership } from './projections/tallies/leadership.js';
import { PartitionedLeadership } from './projections/tallies/partition-leadership.js';
import { partitionsOf } from './projections/tallies/partitions.js';
import { MemoryTallyStore } from './projections/tallies/memory-tally-store.js';
import { ProjectionProgress } from './projections/tallies/projection-progress.js';
import { Projector } from './projections/tallies/projector.js';
import { createProjectorMetrics, createRebuildMetrics } from './projections/tallies/projector-metrics.js';
import type { ReadSide } from './projections/tallies/read-side.js';
import { TallyQueries } from './projections/tallies/tally-queries.js';

/** What the caller opened and still owns: the service uses these and closes none of them. */
export interface ServiceConnections {
  readonly database: DatabaseHandle;
  readonly readSide: Omit<ReadSide, 'close'>;
  readonly logger: Logger;
  readonly registry: Registry;
}

/** Settings that are not environment variables. */
export interface ServiceOptions {
  /** The demo project's public key: with it the app serves /demo. */
  readonly demoPublicKey?: string | undefined;
  /** How long a poll's definition is cached for reads; 5 s unless given. */
  readonly pollCacheMs?: number;
  /** How often `minPosition` waiters also poll the checkpoint (ProjectionProgress's default unless given). */
  readonly progressPollMs?: number;
  /** How long stopping waits for HTTP requests in flight before cutting them; 7 s unless given. */
  readonly drainMs?: number;
}

export interface Service {
  readonly app: Express;
  readonly server: Server;
  readonly internalServer: Server | undefined;
  /** Wakes `minPosition` readers; undefined in a projector process, which serves no reads. */
  readonly progress: ProjectionProgress | undefined;
  /**
   * Readiness turns 503 at once; then HTTP drains, accepted votes are appended, and the projector
   * finishes its batch and lets a standby lead. The connections stay open for the caller to close.
   */
  close(signal?: string): Promise<void>;
}

/** Wires the API and the projector over open connections, as ROLE asks, and starts listening. */
export async function startService(config: Config, connections: ServiceConnections, options: ServiceOptions = {}): Promise<Service> {
  const { database, logger } = connections;
  const runsApi = config.ROLE !== 'projector';
  const runsProjector = config.ROLE !== 'api';
  const polls = new PollCache(database.db, { cacheMs: options.pollCacheMs ?? 5000 });
  const projectors = await createProjectors(config, connections, polls);
  const api = runsApi ? createReadsAndWrites(config, connections, polls, runsProjector ? projectors : undefined, options) : undefined;
  const projecting = runsProjector ? startProjecting(config, connections, projectors) : undefined;

  const stopping = new AbortController();
  const deps = appDependencies(config, connections, { ...api, demoPublicKey: options.demoPublicKey, stopping: stopping.signal });
  const app = createApp({ ...deps, internalRoutesElsewhere: config.INTERNAL_PORT !== undefined });
  const server = await listen(app, config.PORT, config);
  const internalServer = config.INTERNAL_PORT === undefined ? undefined : await listen(createInternalApp(deps), config.INTERNAL_PORT, config);

  const close = async (signal?: string) => {
    stopping.abort();
    logger.info({ signal }, 'shutting down');
    const drainMs = options.drainMs ?? 7000;
    await Promise.all([drainHttpServer(server, drainMs), internalServer && drainHttpServer(internalServer, drainMs)]);
    await api?.hub.close();
    await api?.appender.close();
    await projecting?.stop();
  };
  return { app, server, internalServer, progress: api?.progress, close };
}

type ApiParts = Pick<AppDependencies, 'appender' | 'queries' | 'hub' | 'demoPublicKey'> & { readonly stopping: AbortSignal };

function appDependencies(config: Config, connections: ServiceConnections, parts: ApiParts): AppDependencies {
  const { database, readSide, logger, registry } = connections;
  return {
    appender: parts.appender,
    queries: parts.queries,
    hub: parts.hub,
    demoPublicKey: parts.demoPublicKey,
    stopping: parts.stopping,
    db: database.db,
    projections: projectionAdmin(config, connections),
    logger,
    adminToken: config.ADMIN_TOKEN,
    registry,
    readiness: { redis: readSide.redis, stopping: () => parts.stopping.aborted },
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
}

/** One projector per partition (one for the whole log unless PROJECTOR_PARTITIONS is set); each works while this process leads its partition. */
async function createProjectors(config: Config, { database, readSide, logger, registry }: ServiceConnections, polls: PollCache): Promise<Projector[]> {
  const metrics = createProjectorMetrics(registry);
  const projectors = partitionsOf(config.PROJECTOR_PARTITIONS ?? 1).map(
    (partition) =>
      new Projector({
        db: database.db,
        polls,
        partition,
        store: readSide.store,
        feed: readSide.feed,
        metrics,
        logger: logger.child({ component: 'projector', ...(partition.count > 1 && { partition: partition.index }) }),
        batchSize: config.PROJECTOR_BATCH_SIZE,
        pollIntervalMs: config.PROJECTOR_POLL_INTERVAL_MS,
        // The in-process store is its own cache; Redis is spared reading back hot tallies.
        tallyCacheSize: readSide.inProcess ? 0 : Math.floor(100_000 / partition.count),
      }),
  );
  if (readSide.inProcess) logger.info({ events: await projectors[0]!.catchUp() }, 'in-process read model rebuilt from the log');
  if (readSide.store instanceof MemoryTallyStore) warnWhenFull(readSide.store, embeddedCeiling(config), logger);
  return projectors;
}

/** The API's side: appending votes, reading tallies, and the realtime hub. */
function createReadsAndWrites(config: Config, { database, readSide, registry }: ServiceConnections, polls: PollCache, localProjectors: Projector[] | undefined, options: ServiceOptions) {
  const appender = new VoteAppender(database.db, {
    windowMs: config.APPEND_BATCH_WINDOW_MS,
    maxBatch: config.APPEND_MAX_BATCH,
    maxConcurrentBatches: config.APPEND_MAX_CONCURRENT_BATCHES,
    idempotencyKeyTtlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS,
    metrics: createAppendMetrics(registry),
    // In one process the projector hears about new votes directly, NOTIFY or not.
    onBatchAppended: localProjectors === undefined ? undefined : () => localProjectors.forEach((projector) => projector.wake()),
    admit: readSide.store instanceof MemoryTallyStore ? embeddedCapacityCheck(readSide.store, embeddedCeiling(config)) : undefined,
  });
  const hub = new TallyStreamHub(readSide.feed);
  const progress = new ProjectionProgress(() => readSide.store.readCheckpoint(), (listener) => hub.follow(listener), {
    maxWaiters: config.MIN_POSITION_MAX_WAITERS,
    pollMs: options.progressPollMs,
  });
  return { appender, hub, progress, queries: new TallyQueries(polls, readSide.store, { progress }) };
}

/**
 * Runs the projectors (as leader of the database's log, or of a fair share of its partitions, when
 * there is a database server) and the idempotency key expiry.
 */
function startProjecting(config: Config, { database, logger }: ServiceConnections, projectors: Projector[]) {
  const stopProjecting = new AbortController();
  const wakeUp = { channel: newVotesChannel, onNotification: () => projectors.forEach((projector) => projector.wake()) };
  const url = config.DATABASE_URL;
  const projecting =
    url === undefined
      ? projectors[0]!.run(stopProjecting.signal)
      : projectors.length === 1
        ? new PostgresLeadership(url, logger, { wakeUp }).lead((termEnded, nextEpoch) => projectors[0]!.lead(nextEpoch, termEnded), stopProjecting.signal)
        : new PartitionedLeadership(url, projectors.length, logger, { wakeUp }).lead(
            (partition, termEnded, nextEpoch) => projectors[partition.index]!.lead(nextEpoch, termEnded),
            stopProjecting.signal,
          );
  // Every projector process may run it: deleting what another already deleted costs nothing.
  const expiringKeys = expireIdempotencyKeys(
    database.db,
    { ttlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS ?? defaultIdempotencyKeyTtlSeconds, intervalMs: 60_000, batchSize: 1000, logger: logger.child({ component: 'idempotency-keys' }) },
    stopProjecting.signal,
  );
  return {
    stop: async () => {
      stopProjecting.abort();
      await projecting.catch(() => {});
      await expiringKeys;
    },
  };
}

function projectionAdmin(config: Config, { database, readSide, logger, registry }: ServiceConnections) {
  if (readSide.redis === undefined) return inProcessProjectionAdmin({ db: database.db, store: readSide.store });
  return redisProjectionAdmin({
    db: database.db,
    store: readSide.store,
    redis: readSide.redis,
    prefix: config.REDIS_KEY_PREFIX,
    logger,
    batchSize: config.PROJECTOR_BATCH_SIZE,
    replicasToAcknowledge: config.REDIS_REPLICAS_TO_ACKNOWLEDGE,
    metrics: createRebuildMetrics(registry),
  });
}

const embeddedCeiling = (config: Config): EmbeddedCeiling => ({ maxTargets: config.EMBEDDED_MAX_TARGETS, maxBallots: config.EMBEDDED_MAX_BALLOTS });

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

function rateLimitsOf(config: Config, readSide: ServiceConnections['readSide']): RateLimits {
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

function listen(app: Express, port: number, config: Config): Promise<Server> {
  return listenHttp(app, port, config.HOST, {
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  });
}
