import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { retractBallots } from '../commands/moderation.js';
import type { VoteAppender } from '../commands/vote-appender.js';
import { ClickvoteError } from '../domain/errors.js';
import type { Database } from '../platform/database.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { jsonBody } from './json-body.js';
import { decodeInput, Identifier, PollName } from './validation.js';

const Instant = Schema.Date.annotations({ message: () => 'must be an ISO 8601 date and time' });
const RetractionBody = Schema.Struct({
  reason: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(500)),
  poll: Schema.optional(PollName),
  voter: Schema.optional(Identifier),
  clientAddressHash: Schema.optional(Schema.String.pipe(Schema.pattern(/^[\w-]{22}$/, { message: () => 'must be a clientAddressHash from an event\'s metadata' }))),
  from: Schema.optional(Instant),
  to: Schema.optional(Instant),
  dryRun: Schema.optionalWith(Schema.Boolean, { default: () => false }),
});

/** Moderation by the log: retractions are events like any other, never deletions. Secret key only. */
export function moderationRoutes(db: Kysely<Database>, keys: ProjectKeyCache, appender: VoteAppender): Router {
  const router = Router();

  router.post('/v1/moderation/retractions', requireProjectKey(keys, 'secret'), ...jsonBody, async (req, res) => {
    const { reason, dryRun, ...filter } = decodeInput(RetractionBody, req.body, 'body');
    if (filter.voter === undefined && filter.clientAddressHash === undefined) {
      throw new ClickvoteError('validation_failed', 'The body is not valid.', [{ field: 'voter', message: 'voter or clientAddressHash is required, so one request never retracts a whole poll' }]);
    }
    const project = authenticatedProject(res);
    res.json(await retractBallots(db, appender, { projectId: project.id, ...filter }, { reason, keyFingerprint: project.keyId, dryRun }));
  });

  return router;
}
