import { Schema } from 'effect';
import { type Response, Router } from 'express';
import type { Kysely } from 'kysely';
import { getPoll } from '../catalog/polls.js';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { ClickvoteError } from '../domain/errors.js';
import { formatPosition, logStart, parsePosition } from '../domain/position.js';
import type { Database } from '../platform/database.js';
import { exportAuditEvents, readAuditEvents, tallyAsOf } from '../projections/log-queries/audit-log.js';
import { toTallyView } from '../projections/tallies/tally-view.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { decodeInput, Identifier, Instant, PollName } from './validation.js';

const Cursor = Schema.String.pipe(Schema.filter((cursor) => decodeCursor(cursor) !== undefined || 'must be a cursor from a previous page'));
const EventsQuery = Schema.Struct({
  poll: Schema.optional(PollName),
  target: Schema.optional(Identifier),
  voter: Schema.optional(Identifier),
  from: Schema.optional(Instant),
  to: Schema.optional(Instant),
  after: Schema.optional(Cursor),
  order: Schema.optionalWith(Schema.Literal('oldest', 'newest'), { default: () => 'oldest' as const }),
  limit: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)), { default: () => 100 }),
});
const TallyParams = Schema.Struct({ poll: PollName, target: Identifier });
const AsOfQuery = Schema.Struct({ at: Instant });

/** Audit reads go to the log in PostgreSQL, never to the read model. Secret key only. */
export function auditRoutes(db: Kysely<Database>, keys: ProjectKeyCache): Router {
  const router = Router();
  const secretKey = requireProjectKey(keys, 'secret');

  router.get('/v1/audit/events', secretKey, async (req, res) => {
    const { after, limit, order, ...filters } = decodeInput(EventsQuery, req.query, 'query');
    const filter = { projectId: authenticatedProject(res).id, ...filters };
    const cursor = after === undefined ? undefined : decodeCursor(after);
    if (req.accepts(['application/json', 'application/x-ndjson']) === 'application/x-ndjson') {
      if (order === 'newest') throw new ClickvoteError('validation_failed', 'The export is in commit order.', [{ field: 'order', message: 'must be oldest for an NDJSON export' }]);
      res.type('application/x-ndjson');
      await exportAuditEvents(db, filter, cursor, (events) => writeLines(res, events));
      res.end();
      return;
    }
    const page = await readAuditEvents(db, filter, cursor, limit + 1, { order });
    const events = page.slice(0, limit);
    const last = events.at(-1)?.position;
    const next = page.length > limit ? encodeCursor(last!) : null;
    // Newest first is read by people, page by page back in time; tailing is done oldest first.
    if (order === 'newest') {
      res.json({ events, next });
      return;
    }
    // A client at the head keeps resumeAfter and passes it as `after` later to read only what came since.
    const resumeAfter = last === undefined ? (after ?? encodeCursor(formatPosition(logStart))) : encodeCursor(last);
    res.json({ events, next, resumeAfter });
  });

  router.get('/v1/audit/polls/:poll/tallies/:target', secretKey, async (req, res) => {
    const { poll: name, target } = decodeInput(TallyParams, req.params, 'path');
    const { at } = decodeInput(AsOfQuery, req.query, 'query');
    const projectId = authenticatedProject(res).id;
    const poll = await getPoll(db, projectId, name);
    const tally = await tallyAsOf(db, projectId, name, target, at);
    res.json({ ...toTallyView(poll, target, tally), at: at.toISOString() });
  });

  return router;
}

/** Writes a page as NDJSON, waiting while the client is slow; false once the client has gone. */
async function writeLines(res: Response, lines: readonly string[]): Promise<boolean> {
  if (res.destroyed) return false;
  const chunk = lines.join('\n') + '\n';
  if (!res.write(chunk)) await drainedOrClosed(res);
  return !res.destroyed;
}

function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function encodeCursor(position: string): string {
  return Buffer.from(position).toString('base64url');
}

function decodeCursor(cursor: string) {
  return parsePosition(Buffer.from(cursor, 'base64url').toString());
}

