import { Either, ParseResult, Schema } from 'effect';
import proxyAddr from 'proxy-addr';
import { defaultRateLimits, maxRateLimit } from '../domain/rate-limit-settings.js';
import type { RedisTarget } from './redis.js';

const Port = Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 65535));
const PositiveInt = (max: number) => Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, max));
const oneOf = <const Values extends readonly [string, ...string[]]>(...values: Values) =>
  Schema.String.pipe(
    Schema.filter((value): value is Values[number] => values.includes(value), {
      message: () => `must be one of ${values.join(', ')}`,
    }),
  );
const BooleanFromString = Schema.transform(oneOf('true', 'false', '1', '0'), Schema.Boolean, {
  strict: true,
  decode: (text) => text === 'true' || text === '1',
  encode: (flag) => (flag ? 'true' : 'false'),
});
const PostgresUrl = Schema.String.pipe(
  Schema.pattern(/^postgres(ql)?:\/\//, { message: () => 'must be a postgres:// or postgresql:// URL' }),
);
const RedisUrl = Schema.String.pipe(
  Schema.pattern(/^rediss?:\/\//, { message: () => 'must be a redis:// or rediss:// URL' }),
);
const RedisClusterNodes = Schema.transform(
  Schema.String.pipe(Schema.pattern(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, { message: () => 'must be host:port, host:port, …' })),
  Schema.Array(Schema.String),
  { strict: true, decode: (text) => text.split(',').map((node) => node.trim()), encode: (nodes) => nodes.join(',') },
);

/** Express's "trust proxy", checked with the same library Express compiles it with, so a bad one stops the start. */
const TrustProxy = Schema.transformOrFail(Schema.String, Schema.Union(Schema.Boolean, Schema.Number, Schema.String), {
  strict: true,
  decode: (text, _options, ast) => {
    const setting = trustProxySetting(text);
    return setting === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, text, 'must be true, false, a hop count, or comma-separated addresses and subnets'))
      : ParseResult.succeed(setting);
  },
  encode: (setting) => ParseResult.succeed(String(setting)),
});

function trustProxySetting(text: string): boolean | number | string | undefined {
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^\d+$/.test(text)) return Number(text);
  try {
    proxyAddr.compile(text.split(',').map((part) => part.trim()));
    return text;
  } catch {
    return undefined;
  }
}

const secretVariables = new Set(['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'CLIENT_ADDRESS_HASH_KEY']);

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(schema);
const withDefault = <A>(schema: Schema.Schema<A, string>, value: A) =>
  Schema.optionalWith(schema, { default: () => value });

/** Every variable the service reads. The README's configuration table mirrors this one. */
export const EnvironmentSchema = Schema.Struct({
  PORT: withDefault(Port, 3000),
  HOST: withDefault(Schema.NonEmptyString, '0.0.0.0'),
  ROLE: withDefault(oneOf('all', 'api', 'projector'), 'all'),
  DATABASE_URL: optional(PostgresUrl),
  DATABASE_POOL_SIZE: withDefault(PositiveInt(200), 10),
  DATA_DIR: withDefault(Schema.NonEmptyString, './data'),
  REDIS_URL: optional(RedisUrl),
  REDIS_CLUSTER_NODES: optional(RedisClusterNodes),
  REDIS_REPLICAS_TO_ACKNOWLEDGE: withDefault(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 16)), 0),
  REDIS_KEY_PREFIX: withDefault(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,32}$/, { message: () => 'must be 1 to 32 letters, digits, "_" or "-"' })), 'cv'),
  ADMIN_TOKEN: optional(
    Schema.String.pipe(Schema.minLength(16, { message: () => 'must be at least 16 characters' })),
  ),
  CLIENT_ADDRESS_HASH_KEY: optional(
    Schema.String.pipe(Schema.minLength(16, { message: () => 'must be at least 16 characters' })),
  ),
  TRUST_PROXY: withDefault(TrustProxy, false),
  LOG_LEVEL: withDefault(oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'info'),
  MIGRATE_ON_START: optional(BooleanFromString),
  CREATE_DEMO_PROJECT: optional(BooleanFromString),
  APPEND_BATCH_WINDOW_MS: withDefault(Schema.NumberFromString.pipe(Schema.int(), Schema.between(0, 1000)), 0),
  APPEND_MAX_BATCH: withDefault(PositiveInt(1000), 256),
  APPEND_MAX_CONCURRENT_BATCHES: withDefault(PositiveInt(64), 2),
  PROJECTOR_BATCH_SIZE: withDefault(PositiveInt(100_000), 10_000),
  PROJECTOR_POLL_INTERVAL_MS: withDefault(PositiveInt(60_000), 1000),
  /**
   * Unset: 1 for a projector, and a rebuild keeps the live read model's count. Needs DATABASE_URL
   * and Redis: the partitions' leaders share the work across projector processes.
   */
  PROJECTOR_PARTITIONS: optional(PositiveInt(64)),
  INTERNAL_PORT: optional(Port),
  HTTP_REQUEST_TIMEOUT_MS: withDefault(PositiveInt(3_600_000), 30_000),
  HTTP_HEADERS_TIMEOUT_MS: withDefault(PositiveInt(3_600_000), 10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: withDefault(PositiveInt(3_600_000), 5_000),
  REALTIME_MAX_STREAMS: withDefault(PositiveInt(1_000_000), 2000),
  REALTIME_MAX_STREAMS_PER_CLIENT: withDefault(PositiveInt(1_000_000), 20),
  REALTIME_MAX_STREAMS_PER_KEY: withDefault(PositiveInt(1_000_000), 1000),
  REALTIME_MAX_TARGETS: withDefault(PositiveInt(10_000_000), 50_000),
  MIN_POSITION_MAX_WAITERS: withDefault(PositiveInt(1_000_000), 1000),
  /** The in-process read model's ceiling (no REDIS_URL); sized for the image's 160 MB heap. */
  EMBEDDED_MAX_TARGETS: withDefault(PositiveInt(100_000_000), 25_000),
  EMBEDDED_MAX_BALLOTS: withDefault(PositiveInt(1_000_000_000), 100_000),
  /** Unset: the append path's default, 24 hours. */
  IDEMPOTENCY_KEY_TTL_SECONDS: optional(PositiveInt(366 * 24 * 60 * 60)),
  RATE_LIMITS: withDefault(oneOf('on', 'off'), 'on'),
  RATE_LIMIT_VOTES_PER_ADDRESS: withDefault(PositiveInt(maxRateLimit), defaultRateLimits.votesPerAddress),
  RATE_LIMIT_VOTES_PER_VOTER: withDefault(PositiveInt(maxRateLimit), defaultRateLimits.votesPerVoter),
  RATE_LIMIT_VOTERS_PER_ADDRESS: withDefault(PositiveInt(maxRateLimit), defaultRateLimits.votersPerAddress),
});

export type Environment = Schema.Schema.Type<typeof EnvironmentSchema>;

export interface Config extends Environment {
  /** No DATABASE_URL: PGlite under DATA_DIR, migrations and the demo project at start. */
  readonly embedded: boolean;
  readonly migrateOnStart: boolean;
  readonly createDemoProject: boolean;
  /** REDIS_URL or REDIS_CLUSTER_NODES; undefined: the read model lives in this process. */
  readonly redis: RedisTarget | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const decodeEnvironment = Schema.decodeUnknownEither(EnvironmentSchema, { errors: 'first' });

/** Decodes the environment; empty strings count as unset. Throws one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const decoded = decodeEnvironment(present);
  if (Either.isLeft(decoded)) {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
    const variable = String(issue?.path[0] ?? 'environment');
    const shown = present[variable] === undefined || secretVariables.has(variable) ? '' : ` (got ${JSON.stringify(present[variable])})`;
    throw new ConfigError(`Invalid environment variable ${variable}${shown}: ${issue?.message ?? 'invalid'}`);
  }
  const environment = decoded.right;
  refusePlaceholders(environment);
  const embedded = environment.DATABASE_URL === undefined;
  const redis = redisTargetOf(environment);
  if (redis === undefined && environment.ROLE !== 'all') {
    throw new ConfigError(`Invalid environment variable REDIS_URL: required when ROLE=${environment.ROLE} (or REDIS_CLUSTER_NODES), so API and projector processes share one read model`);
  }
  if ((environment.PROJECTOR_PARTITIONS ?? 1) > 1 && (embedded || redis === undefined)) {
    throw new ConfigError('Invalid environment variable PROJECTOR_PARTITIONS: more than 1 needs DATABASE_URL and REDIS_URL (or REDIS_CLUSTER_NODES), where the partitions and their leaders live');
  }
  if (environment.HTTP_HEADERS_TIMEOUT_MS > environment.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('Invalid environment variable HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }
  return {
    ...environment,
    embedded,
    migrateOnStart: environment.MIGRATE_ON_START ?? embedded,
    createDemoProject: environment.CREATE_DEMO_PROJECT ?? embedded,
    redis,
  };
}

function redisTargetOf(environment: Environment): RedisTarget | undefined {
  if (environment.REDIS_URL !== undefined && environment.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('Invalid environment variable REDIS_CLUSTER_NODES: set it or REDIS_URL, not both');
  }
  if (environment.REDIS_CLUSTER_NODES !== undefined) return { clusterNodes: environment.REDIS_CLUSTER_NODES };
  return environment.REDIS_URL === undefined ? undefined : { url: environment.REDIS_URL };
}

// .env.example, compose.yaml and deploy/ ship "change-me…" values to be replaced; a deployment
// that kept one would run with a secret anyone can read.
const placeholder = /^change-?me/i;

function refusePlaceholders(environment: Environment): void {
  const refuse = (variable: string, what: string) => {
    throw new ConfigError(`Invalid environment variable ${variable}: ${what} is still the shipped placeholder; set a secret of your own`);
  };
  if (placeholder.test(environment.ADMIN_TOKEN ?? '')) refuse('ADMIN_TOKEN', 'the token');
  if (placeholder.test(environment.CLIENT_ADDRESS_HASH_KEY ?? '')) refuse('CLIENT_ADDRESS_HASH_KEY', 'the key');
  if (placeholder.test(databasePassword(environment.DATABASE_URL))) refuse('DATABASE_URL', 'the password');
}

function databasePassword(url: string | undefined): string {
  if (url === undefined) return '';
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}
