import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import { getPoll } from '../catalog/polls.js';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import type { Database } from '../platform/database.js';
import { analyticsRanges, pollActivity } from '../projections/log-queries/analytics.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { decodeInput, Identifier, PollName } from './validation.js';

const Params = Schema.Struct({ poll: PollName });
const Query = Schema.Struct({
  range: Schema.optionalWith(Schema.Literal(...(Object.keys(analyticsRanges) as (keyof typeof analyticsRanges)[])), { default: () => '7d' as const }),
  bucket: Schema.optional(Schema.Literal('hour', 'day')),
  target: Schema.optional(Identifier),
});

export function analyticsRoutes(db: Kysely<Database>, keys: ProjectKeyCache): Router {
  const router = Router();
  router.get('/v1/analytics/polls/:poll', requireProjectKey(keys, 'secret'), async (req, res) => {
    const { poll } = decodeInput(Params, req.params, 'path');
    const { range, bucket, target } = decodeInput(Query, req.query, 'query');
    const projectId = authenticatedProject(res).id;
    await getPoll(db, projectId, poll);
    const chosen = bucket ?? (range === '1d' ? 'hour' : 'day');
    res.json({ poll, range, bucket: chosen, target: target ?? null, buckets: await pollActivity(db, { projectId, poll, target }, range, chosen) });
  });
  return router;
}
