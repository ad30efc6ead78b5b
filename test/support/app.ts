import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PollCache } from '../../src/catalog/poll-cache.js';
import { createAppendMetrics } from '../../src/commands/append-metrics.js';
import { definePoll } from '../../src/commands/polls.js';
import { createProject } from '../../src/commands/projects.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { defaultRateLimits, type RateLimitSettings } from '../../src/domain/rate-limit-settings.js';
import { createApp } from '../../src/http/app.js';
import type { StreamLimits } from '../../src/http/stream-capacity.js';
import { type EmbeddedCeiling, embeddedCapacityCheck } from '../../src/projections/tallies/embedded-capacity.js';
import { RateLimits } from '../../src/http/rate-limits.js';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import { inProcessProjectionAdmin, redisProjectionAdmin } from '../../src/projections/operations/projection-admin.js';
import { ProjectionProgress } from '../../src/projections/tallies/projection-progress.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { createProjectorMetrics } from '../../src/projections/tallies/projector-metrics.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { InProcessTallyFeed, RedisTallyFeed } from '../../src/projections/realtime/tally-feed.js';
import { TallyQueries } from '../../src/projections/tallies/tally-queries.js';
import { TallyStreamHub } from '../../src/projections/realtime/tally-stream-hub.js';
import type { TallyStore } from '../../src/projections/tallies/tally-store.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestRedis, type TestRedis } from './redis.js';

export interface TestApp {
  readonly baseUrl: string;
  /** With `{ demo: true }`: a project with likes, votes and stars polls, served at /demo. */
  readonly demo: { id: string; publicKey: string; secretKey: string } | undefined;
  readonly redis: TestRedis | undefined;
  readonly database: TestDatabase;
  readonly store: TallyStore;
  readonly readModel: 'redis' | 'in-process';
  readonly adminToken: string;
  readonly progress: ProjectionProgress;
  close(): Promise<void>;
}

/**
 * The real app, in process on a free port, over this test file's own database (or the one given), with a projector
 * running beside it into Redis (this file's own key prefix) or, without Redis, in process.
 */
export interface TestAppOptions {
  readonly demo?: boolean;
  /** A database of the test's own (say, on a PostgreSQL server it started), instead of a new one on the shared server. */
  readonly database?: TestDatabase;
  /** A Redis server of the test's own (one it counts commands on), instead of the shared one. */
  readonly redisUrl?: string;
  readonly maxWaiters?: number;
  readonly progressPollMs?: number;
  readonly streamLimits?: Partial<StreamLimits>;
  /** The embedded read model's ceiling: the app then runs without Redis, as embedded. */
  readonly embeddedCeiling?: EmbeddedCeiling;
  /** As deployed, limits are on at the defaults; files that cast many votes from one address turn them off. */
  readonly rateLimits?: 'off' | Partial<RateLimitSettings>;
  /** Believe X-Forwarded-For, so a test can vote from several client addresses. */
  readonly trustProxy?: boolean;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const demo = options.demo === true ? await createDemo(database) : undefined;
  const redis: TestRedis | undefined = options.embeddedCeiling === undefined ? await createTestRedis(options.redisUrl) : undefined;
  const store = redis === undefined ? new MemoryTallyStore() : await RedisTallyStore.open(redis.client, redis.prefix);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const registry = new Registry();
  const feed = redis === undefined ? new InProcessTallyFeed() : new RedisTallyFeed(redis.client, RedisKeys.channelOf(redis.prefix));
  const hub = new TallyStreamHub(feed);
  const polls = new PollCache(database.db, { cacheMs: 0 });
  const projector = new Projector({ db: database.db, polls, store, feed, logger, metrics: createProjectorMetrics(registry), batchSize: 1000, pollIntervalMs: 200 });
  const adminToken = 'test-admin-token-0123456789';
  const appender = new VoteAppender(database.db, {
    windowMs: 0,
    maxBatch: 128,
    maxConcurrentBatches: 4,
    metrics: createAppendMetrics(registry),
    onBatchAppended: () => projector.wake(),
    admit: store instanceof MemoryTallyStore && options.embeddedCeiling !== undefined ? embeddedCapacityCheck(store, options.embeddedCeiling) : undefined,
  });
  const progress = new ProjectionProgress(() => store.readCheckpoint(), (listener) => hub.follow(listener), {
    maxWaiters: options.maxWaiters ?? 1000,
    pollMs: options.progressPollMs,
  });
  const queries = new TallyQueries(polls, store, { progress });
  const stopProjecting = new AbortController();
  const projecting = projector.run(stopProjecting.signal);
  const clientAddressKey = Buffer.from('test-client-address-key');
  const projections =
    redis === undefined
      ? inProcessProjectionAdmin({ db: database.db, store })
      : redisProjectionAdmin({ db: database.db, store, redis: redis.client, prefix: redis.prefix, logger, batchSize: 1000 });
  const stopping = new AbortController();
  const server = createApp({
    db: database.db,
    appender,
    queries,
    projections,
    hub,
    stopping: stopping.signal,
    demoPublicKey: demo?.publicKey,
    logger,
    adminToken,
    registry,
    clientAddressKey,
    streamLimits: { maxStreams: 2000, maxStreamsPerClient: 20, maxStreamsPerKey: 1000, maxTargets: 50_000, ...options.streamLimits },
    trustProxy: options.trustProxy,
    rateLimits: new RateLimits({
      enabled: options.rateLimits !== 'off',
      settings: { ...defaultRateLimits, ...(options.rateLimits === 'off' ? {} : options.rateLimits) },
      redis: redis?.client,
      keyPrefix: redis?.prefix,
    }),
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    demo,
    redis,
    database,
    store,
    readModel: redis === undefined ? 'in-process' : 'redis',
    adminToken,
    progress,
    close: async () => {
      stopping.abort();
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await appender.close();
      stopProjecting.abort();
      await projecting;
      await hub.close();
      await redis?.dispose();
      await database.dispose();
    },
  };
}

async function createDemo(database: TestDatabase) {
  const project = await createProject(database.db, 'demo');
  for (const [name, kind] of [['likes', 'like'], ['votes', 'updown'], ['stars', 'rating']] as const) {
    await definePoll(database.db, { projectId: project.id, name, kind });
  }
  return project;
}

/** A project created through the API, with these polls defined by its secret key. */
export async function createProjectOverHttp(app: TestApp, name: string, polls: Record<string, { kind: string; min?: number; max?: number; maxTargets?: number }> = {}) {
  const project = (await call(app, 'POST', '/v1/projects', { key: app.adminToken, body: { name } })).body as { id: string; publicKey: string; secretKey: string };
  for (const [poll, body] of Object.entries(polls)) await call(app, 'PUT', `/v1/polls/${poll}`, { key: project.secretKey, body });
  return project;
}

export interface CallOptions {
  readonly key?: string;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

export async function call(app: Pick<TestApp, 'baseUrl'>, method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(app.baseUrl + path, { method, headers, body });
  const text = await response.text();
  const json = text !== '' && /json/.test(response.headers.get('content-type') ?? '');
  return { status: response.status, headers: response.headers, body: json ? (JSON.parse(text) as any) : text === '' ? undefined : text };
}
