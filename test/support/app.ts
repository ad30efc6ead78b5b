import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { definePoll } from '../../src/commands/polls.js';
import { createProject } from '../../src/commands/projects.js';
import type { RateLimitSettings } from '../../src/domain/rate-limit-settings.js';
import type { StreamLimits } from '../../src/http/stream-capacity.js';
import { type Config, loadConfig } from '../../src/platform/config.js';
import { InProcessTallyFeed, RedisTallyFeed } from '../../src/projections/realtime/tally-feed.js';
import type { EmbeddedCeiling } from '../../src/projections/tallies/embedded-capacity.js';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import type { ProjectionProgress } from '../../src/projections/tallies/projection-progress.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import type { TallyStore } from '../../src/projections/tallies/tally-store.js';
import { startService } from '../../src/service.js';
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
  /** Makes the test's Redis (a cluster of its own, say) instead of the shared one. */
  readonly redis?: () => Promise<TestRedis | undefined>;
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
  const redis: TestRedis | undefined = options.embeddedCeiling === undefined ? await (options.redis?.() ?? createTestRedis(options.redisUrl)) : undefined;
  const store = redis === undefined ? new MemoryTallyStore() : await RedisTallyStore.open(redis.client, redis.prefix);
  const feed = redis === undefined ? new InProcessTallyFeed() : new RedisTallyFeed(redis.client, RedisKeys.channelOf(redis.prefix));
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const service = await startService(
    testConfig(options, redis),
    { database, readSide: { store, feed, redis: redis?.client, inProcess: redis === undefined }, logger, registry: new Registry() },
    // Polls are read afresh and stopping cuts open requests at once: tests redefine polls and leave streams open.
    { demoPublicKey: demo?.publicKey, pollCacheMs: 0, progressPollMs: options.progressPollMs, drainMs: 0 },
  );
  const { port } = service.server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    demo,
    redis,
    database,
    store,
    readModel: redis === undefined ? 'in-process' : 'redis',
    adminToken,
    progress: service.progress!,
    close: async () => {
      await service.close();
      await redis?.dispose();
      await database.dispose();
    },
  };
}

const adminToken = 'test-admin-token-0123456789';

/**
 * The service's configuration as the environment would give it. No DATABASE_URL: the test's
 * database comes in as a connection, and its projector runs without leader election.
 */
function testConfig(options: TestAppOptions, redis: TestRedis | undefined): Config {
  const limits = options.rateLimits === 'off' ? {} : (options.rateLimits ?? {});
  const streams = options.streamLimits ?? {};
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_KEY_PREFIX: redis?.prefix,
    ADMIN_TOKEN: adminToken,
    CLIENT_ADDRESS_HASH_KEY: 'test-client-address-key',
    TRUST_PROXY: options.trustProxy === true ? 'true' : undefined,
    MIGRATE_ON_START: 'false',
    CREATE_DEMO_PROJECT: 'false',
    APPEND_MAX_BATCH: '128',
    PROJECTOR_BATCH_SIZE: '1000',
    PROJECTOR_POLL_INTERVAL_MS: '200',
    MIN_POSITION_MAX_WAITERS: text(options.maxWaiters),
    EMBEDDED_MAX_TARGETS: text(options.embeddedCeiling?.maxTargets),
    EMBEDDED_MAX_BALLOTS: text(options.embeddedCeiling?.maxBallots),
    RATE_LIMITS: options.rateLimits === 'off' ? 'off' : 'on',
    RATE_LIMIT_VOTES_PER_ADDRESS: text(limits.votesPerAddress),
    RATE_LIMIT_VOTES_PER_VOTER: text(limits.votesPerVoter),
    RATE_LIMIT_VOTERS_PER_ADDRESS: text(limits.votersPerAddress),
    REALTIME_MAX_STREAMS: text(streams.maxStreams),
    REALTIME_MAX_STREAMS_PER_CLIENT: text(streams.maxStreamsPerClient),
    REALTIME_MAX_STREAMS_PER_KEY: text(streams.maxStreamsPerKey),
    REALTIME_MAX_TARGETS: text(streams.maxTargets),
  });
}

const text = (value: number | undefined) => (value === undefined ? undefined : String(value));

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
