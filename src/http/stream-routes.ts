import { Schema } from 'effect';
import { Router } from 'express';
import { Gauge, type Registry } from 'prom-client';
import { TallyCoalescer } from '../projections/realtime/tally-coalescer.js';
import type { TallyStreamHub } from '../projections/realtime/tally-stream-hub.js';
import type { TallyQueries } from '../projections/tallies/tally-queries.js';
import { type TallyView, toTallyView } from '../projections/tallies/tally-view.js';
import type { StreamCapacity } from './stream-capacity.js';
import { authenticatedProject, publicKeyFromQuery, requireProjectKey } from './auth.js';
import type { ProjectKeyCache } from './project-key-cache.js';
import { maxBatchTargets } from './tally-routes.js';
import { decodeInput, PollName, Targets } from './validation.js';

/** At most one event per target in this window: a burst of votes becomes its last tally. */
const coalesceMs = 250;
const heartbeatMs = 15_000;
const maxBufferedBytes = 64 * 1024;

const StreamParams = Schema.Struct({ poll: PollName });
const StreamQuery = Schema.Struct({
  target: Targets(maxBatchTargets),
  key: Schema.optional(Schema.String),
});

/**
 * Server-Sent Events: the current tally of each target at once, then a `tally` event whenever the
 * projector publishes a change. EventSource cannot send headers, so the public key may come as
 * `?key=`. Never says who voted.
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

  router.get('/v1/polls/:poll/stream', publicKeyFromQuery, requireProjectKey(keys, 'public'), async (req, res) => {
    const { poll } = decodeInput(StreamParams, req.params, 'path');
    const { target } = decodeInput(StreamQuery, req.query, 'query');
    const targets = [...new Set(typeof target === 'string' ? [target] : target)];
    const project = authenticatedProject(res);
    const projectId = project.id;
    // Room is taken before any read, so a refused stream costs neither Redis nor memory.
    res.once('close', capacity.admit(req.ip ?? 'unknown', project.keyId, targets.length));
    const current = await capacity.opening(() => queries.tallies(projectId, poll, targets));

    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    connections.inc();
    const send = (view: TallyView) => write(`event: tally\ndata: ${JSON.stringify(view)}\n\n`);
    // A client that stops reading would make its events pile up in this process: it is cut off.
    const write = (text: string) => (res.writableLength > maxBufferedBytes ? res.destroy() : res.write(text));
    for (const view of current) send(view);

    const pollOfView = { name: current[0]!.poll, kind: current[0]!.kind };
    const coalescer = new TallyCoalescer(coalesceMs, (update) => send({ ...toTallyView(pollOfView, update.target, update.tally), position: update.position }));
    const stopWatching = await hub.watch(
      targets.map((name) => ({ projectId, poll, target: name })),
      (update) => coalescer.offer(update),
    );
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    // A stopping server ends its streams; EventSource reconnects to another replica.
    const end = () => res.end();
    stopping.addEventListener('abort', end);
    res.on('close', () => {
      stopWatching();
      clearInterval(heartbeat);
      coalescer.stop();
      stopping.removeEventListener('abort', end);
      connections.dec();
    });
  });

  return router;
}
