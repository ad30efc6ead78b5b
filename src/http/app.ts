import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { KeyUseRecorder } from '../commands/key-use.js';
import type { VoteAppender } from '../commands/vote-appender.js';
import type { Database } from '../platform/database.js';
import type { ProjectionAdmin } from '../projections/operations/projection-admin.js';
import type { TallyQueries } from '../projections/tallies/tally-queries.js';
import type { TallyStreamHub } from '../projections/realtime/tally-stream-hub.js';
import { adminRoutes } from './admin-routes.js';
import { analyticsRoutes } from './analytics-routes.js';
import { auditMetadataWith, clientAddressHasher } from './audit-metadata.js';
import { auditRoutes } from './audit-routes.js';
import { refuseSecretKeyInUrl } from './auth.js';
import { allowAnyOrigin } from './cors.js';
import { moderationRoutes } from './moderation-routes.js';
import { pageRoutes } from './page-routes.js';
import { healthRoutes, type Readiness } from './health-routes.js';
import { internalPaths, notServedHere } from './internal-app.js';
import { httpMetrics } from './http-metrics.js';
import { pollRoutes } from './poll-routes.js';
import { problemHandler, transportError } from './problem.js';
import { projectRoutes } from './project-routes.js';
import { projectSettingsRoutes } from './project-settings-routes.js';
import { requestLog } from './request-log.js';
import { StreamCapacity, type StreamLimits } from './stream-capacity.js';
import { RateLimits } from './rate-limits.js';
import { streamRoutes } from './stream-routes.js';
import { tallyRoutes } from './tally-routes.js';
import { voteRoutes } from './vote-routes.js';
import { voterRoutes } from './voter-routes.js';

export interface AppDependencies {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  readonly adminToken: string | undefined;
  /** Without an appender and queries (a projector process) only health and metrics are served. */
  readonly appender?: VoteAppender;
  readonly queries?: TallyQueries;
  readonly projections?: ProjectionAdmin;
  /** Realtime fan-out of tally changes; with it the app serves /v1/polls/:poll/stream. */
  readonly hub?: TallyStreamHub;
  /** The demo project's public key: with it the app serves /demo. */
  readonly demoPublicKey?: string;
  /** Aborted when the process starts to stop: open streams end so HTTP can drain. */
  readonly stopping?: AbortSignal;
  readonly registry?: Registry;
  /** How long a key's project is remembered; 0 asks the database every time. */
  readonly keyCacheMs?: number;
  /** Key for the hash of client addresses kept with each event. */
  readonly clientAddressKey: Buffer;
  readonly readiness?: Readiness;
  /** Express's "trust proxy": whose X-Forwarded-For to believe for the client address. */
  readonly trustProxy?: boolean | number | string;
  /** Ceilings on realtime streams, so no client can exhaust the process. */
  readonly streamLimits: StreamLimits;
  /** True when INTERNAL_PORT serves /metrics and the admin API (createInternalApp): not here, then. */
  readonly internalRoutesElsewhere?: boolean;
  /** Limits on public-key votes and anonymous voters; in process, on, at the defaults when not given. */
  readonly rateLimits?: RateLimits;
}

export function createApp(deps: AppDependencies): Express {
  const { db, appender, queries, logger, adminToken, registry } = deps;
  const app = express();
  app.set('trust proxy', deps.trustProxy ?? false);
  app.disable('x-powered-by');
  // No ETag hashed over every JSON answer (about 2% of a vote's CPU): votes and tallies change
  // all the time. Static assets set their own strong ETags, which Express still answers 304 on.
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLog(logger));
  if (deps.internalRoutesElsewhere === true) app.all(internalPaths, notServedHere);
  if (registry !== undefined) app.use(httpMetrics(registry));
  app.use(onApiPaths(allowAnyOrigin, refuseSecretKeyInUrl));
  const api = appender !== undefined && queries !== undefined ? apiRoutes(deps, appender, queries) : undefined;
  // The hot routes first: express tries every route registered before the one that matches.
  if (api !== undefined) app.use(api.hot);
  app.use(pageRoutes(deps.demoPublicKey));
  app.use(healthRoutes(db, registry, deps.readiness ?? { stopping: () => false }));
  if (api !== undefined) app.use(api.rest);
  if (deps.projections !== undefined) app.use(adminRoutes(adminToken, deps.projections));
  app.use(() => {
    throw transportError('route_not_found', 'There is no such route; see the README for the API.');
  });
  app.use(problemHandler);
  return app;
}

/** The project API: votes and tally reads (hot), and the rest. */
function apiRoutes(deps: AppDependencies, appender: VoteAppender, queries: TallyQueries): { hot: Router[]; rest: Router[] } {
  const { db, registry } = deps;
  const keyUses = new KeyUseRecorder(db);
  const keys = new ProjectKeyCache(db, deps.keyCacheMs ?? 10_000, (project) => keyUses.noteUse(project.keyId));
  deps.stopping?.addEventListener('abort', () => void keyUses.close().catch(() => {}));
  const rateLimits = deps.rateLimits ?? RateLimits.inProcess();
  const clientAddressHash = clientAddressHasher(deps.clientAddressKey);
  const hot = [
    voteRoutes(keys, appender, { auditMetadata: auditMetadataWith(clientAddressHash), clientAddressHash, rateLimits }),
    tallyRoutes(keys, queries),
  ];
  const rest = [
    projectRoutes(db, deps.adminToken),
    projectSettingsRoutes(db, keys, keyUses, rateLimits),
    voterRoutes(keys, rateLimits, clientAddressHash),
    pollRoutes(db, keys),
    auditRoutes(db, keys),
    moderationRoutes(db, keys, appender),
    analyticsRoutes(db, keys),
  ];
  if (deps.hub !== undefined) {
    const capacity = new StreamCapacity(deps.streamLimits);
    rest.push(streamRoutes(keys, queries, deps.hub, capacity, registry, deps.stopping ?? new AbortController().signal));
  }
  return { hot, rest };
}

const apiPath = /^\/v1(?:\/|$)/i;

/**
 * `app.use('/v1', first, second)` for two synchronous handlers, without the router's mount-path
 * bookkeeping (strip and restore the URL) on every request.
 */
function onApiPaths(first: RequestHandler, second: RequestHandler): RequestHandler {
  return (req, res, next) => {
    if (!apiPath.test(req.path)) return next();
    void first(req, res, () => void second(req, res, next));
  };
}
