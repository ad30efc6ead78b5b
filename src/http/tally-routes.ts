import { Schema } from 'effect';
import { Router } from 'express';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { parsePosition } from '../domain/position.js';
import { rankOrders } from '../domain/ranking.js';
import type { TallyQueries } from '../projections/tallies/tally-queries.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { decodeCommonInput, decodeInput, hasOnlyKeys, Identifier, isIdentifier, isPollName, PollName, Targets } from './validation.js';
import { voterForRead } from './voter-identity.js';

export const maxBatchTargets = 100;

const IntegerFromQuery = (min: number, max: number) => Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max));
const PositionToken = Schema.String.pipe(Schema.filter((token) => parsePosition(token) !== undefined || 'must be a position returned by a vote'));

const PollParams = Schema.Struct({ poll: PollName });
const TallyParams = Schema.Struct({ poll: PollName, target: Identifier });
const TallyQuery = Schema.Struct({
  voter: Schema.optional(Identifier),
  minPosition: Schema.optional(PositionToken),
  waitMs: Schema.optional(IntegerFromQuery(0, 10_000)),
});
const BatchQuery = Schema.Struct({
  target: Targets(maxBatchTargets),
  voter: Schema.optional(Identifier),
});
const TopQuery = Schema.Struct({
  order: Schema.optionalWith(Schema.Literal(...rankOrders), { default: () => 'count' as const }),
  limit: Schema.optionalWith(IntegerFromQuery(1, 100), { default: () => 10 }),
});

// The usual shapes, checked without Schema (see decodeCommonInput).
const pollKeys = new Set(['poll']);
const tallyKeys = new Set(['poll', 'target']);
const noKeys = new Set<string>();
const batchKeys = new Set(['target', 'voter']);
const isCommonPollParams = (params: unknown): params is typeof PollParams.Type => hasOnlyKeys(params, pollKeys) && isPollName(params.poll);
const isCommonTallyParams = (params: unknown): params is typeof TallyParams.Type =>
  hasOnlyKeys(params, tallyKeys) && isPollName(params.poll) && isIdentifier(params.target);
const isEmptyQuery = (query: unknown): query is typeof TallyQuery.Type => hasOnlyKeys(query, noKeys);
const isTargetList = (value: unknown) => Array.isArray(value) && value.length >= 1 && value.length <= maxBatchTargets && value.every(isIdentifier);
const isCommonBatchQuery = (query: unknown): query is typeof BatchQuery.Type =>
  hasOnlyKeys(query, batchKeys) && (query.voter === undefined || isIdentifier(query.voter)) && (isIdentifier(query.target) || isTargetList(query.target));

export function tallyRoutes(keys: ProjectKeyCache, queries: TallyQueries): Router {
  const router = Router();
  const publicKey = requireProjectKey(keys, 'public');

  router.get('/v1/polls/:poll/tallies/:target', publicKey, async (req, res) => {
    const { poll, target } = decodeCommonInput(TallyParams, isCommonTallyParams, req.params, 'path');
    const { voter, minPosition, waitMs } = decodeCommonInput(TallyQuery, isEmptyQuery, req.query, 'query');
    const project = authenticatedProject(res);
    const reader = await voterForRead(req, project, voter);
    if (minPosition !== undefined) await queries.waitForPosition(minPosition, waitMs ?? 1000);
    const [tally] = await queries.tallies(project.id, poll, [target], reader);
    res.json(tally);
  });

  router.get('/v1/polls/:poll/tallies', publicKey, async (req, res) => {
    const { poll } = decodeCommonInput(PollParams, isCommonPollParams, req.params, 'path');
    const { target, voter } = decodeCommonInput(BatchQuery, isCommonBatchQuery, req.query, 'query');
    const targets = typeof target === 'string' ? [target] : target;
    const project = authenticatedProject(res);
    res.json({ tallies: await queries.tallies(project.id, poll, targets, await voterForRead(req, project, voter)) });
  });

  router.get('/v1/polls/:poll/top', publicKey, async (req, res) => {
    const { poll } = decodeInput(PollParams, req.params, 'path');
    const { order, limit } = decodeInput(TopQuery, req.query, 'query');
    res.json({ items: await queries.top(authenticatedProject(res).id, poll, order, limit) });
  });

  return router;
}
