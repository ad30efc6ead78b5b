import { Schema } from 'effect';
import { type Request, type Response, Router } from 'express';
import { Gauge, type Registry } from 'prom-client';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { TallyCoalescer } from '../projections/realtime/tally-coalescer.js';
import type { TallyStreamHub } from '../projections/realtime/tally-stream-hub.js';
import type { TallyQueries } from '../projections/tallies/tally-queries.js';
import { type TallyView, toTallyView } from '../projections/tallies/tally-view.js';
import type { StreamCapacity } from './stream-capacity.js';
import { authenticatedProject, publicKeyFromQuery, requireProjectKey } from './auth.js';
import { maxBatchTargets } from './tally-routes.js';
import { decodeInput, Identifier, PollName, Targets } from './validation.js';

/** At most one event per target in this window: a burst of votes becomes its last tally. */
const coalesceMs = 250;
const heartbeatMs = 15_000;
const maxBufferedBytes = 64 * 1024;

const StreamParams = Schema.Struct({ poll: PollName });
const StreamQuery = Schema.Struct({
  target: Targets(maxBatchTargets),
  key: Schema.optional(Schema.String),
});
const isPollName = Schema.is(PollName);
const isIdentifier = Schema.is(Identifier);
/** `<poll>:<target>`: a poll name holds no colon, so the first one splits the pair. */
const Subscription = Schema.String.pipe(
  Schema.filter((pair) => {
    const at = pair.indexOf(':');
    if (at === -1) return 'must be <poll>:<target>';
    if (!isPollName(pair.slice(0, at))) return 'must start with a valid poll name, then ":"';
    return isIdentifier(pair.slice(at + 1)) || 'must end with a valid target after ":"';
  }),
);
const PageStreamQuery = Schema.Struct({
  subscribe: Schema.Union(Subscription, Schema.Array(Subscription).pipe(Schema.minItems(1), Schema.maxItems(maxBatchTargets, { message: () => `must be 1 to ${maxBatchTargets} poll:target pairs` }))),
  key: Schema.optional(Schema.String),
});

/** The targets a stream watches, by poll. */
type Subscriptions = ReadonlyMap<string, readonly string[]>;

/**
 * Server-Sent Events: the current tally of each target at once, then a `tally` event (naming its
 * poll) whenever the projector publishes a change. `/v1/stream` serves a whole page's polls on one
 * connection, since a browser holds only six per host. EventSource cannot send headers, so the
 * public key may come as `?key=`. Never says who voted.
 */
export function streamRoutes(
  keys: ProjectKeyCache,
  queries: TallyQueries,
  hub: TallyStreamHub,
  capacity: StreamCapacity,
  registry: Registry | undefined,
  stopping: AbortSignal,
): Router {
  const router = Router();
  const connections = new Gauge({ name: 'clickvote_sse_connections', help: 'Open realtime tally streams', registers: registry === undefined ? [] : [registry] });
  const serve = { queries, hub, capacity, connections, stopping };

  router.get('/v1/polls/:poll/stream', publicKeyFromQuery, requireProjectKey(keys, 'public'), async (req, res) => {
    const { poll } = decodeInput(StreamParams, req.params, 'path');
    const { target } = decodeInput(StreamQuery, req.query, 'query');
    await serveStream(req, res, new Map([[poll, [...new Set(typeof target === 'string' ? [target] : target)]]]), serve);
  });

  router.get('/v1/stream', publicKeyFromQuery, requireProjectKey(keys, 'public'), async (req, res) => {
    const { subscribe } = decodeInput(PageStreamQuery, req.query, 'query');
    const subscriptions = new Map<string, string[]>();
    for (const pair of new Set(typeof subscribe === 'string' ? [subscribe] : subscribe)) {
      const at = pair.indexOf(':');
      const poll = pair.slice(0, at);
      subscriptions.set(poll, [...(subscriptions.get(poll) ?? []), pair.slice(at + 1)]);
    }
    await serveStream(req, res, subscriptions, serve);
  });

  return router;
}

interface StreamServing {
  readonly queries: TallyQueries;
  readonly hub: TallyStreamHub;
  readonly capacity: StreamCapacity;
  readonly connections: Gauge;
  readonly stopping: AbortSignal;
}

async function serveStream(req: Request, res: Response, subscriptions: Subscriptions, { queries, hub, capacity, connections, stopping }: StreamServing): Promise<void> {
  const project = authenticatedProject(res);
  const projectId = project.id;
  const targetCount = [...subscriptions.values()].reduce((sum, targets) => sum + targets.length, 0);
  // Room is taken before any read, so a refused stream costs neither Redis nor memory.
  res.once('close', capacity.admit(req.ip ?? 'unknown', project.keyId, targetCount));
  const current = await capacity.opening(async () => {
    const views: TallyView[] = [];
    for (const [poll, targets] of subscriptions) views.push(...(await queries.tallies(projectId, poll, targets)));
    return views;
  });

  res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  connections.inc();
  const send = (view: TallyView) => write(`event: tally\ndata: ${JSON.stringify(view)}\n\n`);
  // A client that stops reading would make its events pile up in this process: it is cut off.
  const write = (text: string) => (res.writableLength > maxBufferedBytes ? res.destroy() : res.write(text));
  for (const view of current) send(view);

  // One coalescer per poll: each coalesces by target, and polls may share target names.
  const coalescers = new Map(
    [...subscriptions.keys()].map((poll) => {
      const pollOfView = { name: poll, kind: current.find((view) => view.poll === poll)!.kind };
      return [poll, new TallyCoalescer(coalesceMs, (update) => send({ ...toTallyView(pollOfView, update.target, update.tally), position: update.position }))];
    }),
  );
  const watched = [...subscriptions].flatMap(([poll, targets]) => targets.map((target) => ({ projectId, poll, target })));
  const stopWatching = await hub.watch(watched, (update) => coalescers.get(update.poll)?.offer(update));
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
  // A stopping server ends its streams; EventSource reconnects to another replica.
  const end = () => res.end();
  stopping.addEventListener('abort', end);
  res.on('close', () => {
    stopWatching();
    clearInterval(heartbeat);
    for (const coalescer of coalescers.values()) coalescer.stop();
    stopping.removeEventListener('abort', end);
    connections.dec();
  });
}
