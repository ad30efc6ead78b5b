import { Schema } from 'effect';
import { Router } from 'express';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { castVote } from '../commands/cast-vote.js';
import type { VoteAppender } from '../commands/vote-appender.js';
import type { AuditMetadata, ClientAddressHash } from './audit-metadata.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { jsonBody } from './json-body.js';
import type { RateLimits } from './rate-limits.js';
import { voterForVote } from './voter-identity.js';
import { decodeCommonInput, decodeInput, hasOnlyKeys, Identifier, isIdentifier, isPollName, PollName } from './validation.js';

// `voter` may be left out when a Clickvote-Voter token names the voter.
const VoteBody = Schema.Struct({ target: Identifier, voter: Schema.optional(Identifier), value: Schema.Int });
const VoteParams = Schema.Struct({ poll: PollName });
type VoteBody = typeof VoteBody.Type;

const voteBodyKeys = new Set(['target', 'voter', 'value']);
const isCommonVoteBody = (body: unknown): body is VoteBody =>
  hasOnlyKeys(body, voteBodyKeys) && isIdentifier(body.target) && (body.voter === undefined || isIdentifier(body.voter)) && Number.isSafeInteger(body.value);
const pollKey = new Set(['poll']);
const isCommonVoteParams = (params: unknown): params is typeof VoteParams.Type => hasOnlyKeys(params, pollKey) && isPollName(params.poll);
const IdempotencyKey = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,255}$/, { message: () => 'must be 1 to 255 visible ASCII characters' }),
);

export interface VoteRouteOptions {
  readonly auditMetadata: AuditMetadata;
  readonly clientAddressHash: ClientAddressHash;
  readonly rateLimits: RateLimits;
}

export function voteRoutes(keys: ProjectKeyCache, appender: VoteAppender, options: VoteRouteOptions): Router {
  const router = Router();

  router.post('/v1/polls/:poll/votes', requireProjectKey(keys, 'public'), ...jsonBody, async (req, res) => {
    const { poll } = decodeCommonInput(VoteParams, isCommonVoteParams, req.params, 'path');
    const header = req.get('idempotency-key');
    const idempotencyKey = header === undefined ? undefined : decodeInput(IdempotencyKey, header, 'Idempotency-Key');
    const { target, voter: named, value } = decodeCommonInput(VoteBody, isCommonVoteBody, req.body, 'body');
    const project = authenticatedProject(res);
    const voter = await voterForVote(req, project, named);
    await options.rateLimits.consume(res, project, [['votesPerAddress', options.clientAddressHash(req)], ['votesPerVoter', voter]]);
    const receipt = await castVote(appender, {
      projectId: project.id,
      poll,
      target,
      voter,
      value,
      idempotencyKey,
      metadata: options.auditMetadata(req, project),
    });
    if (receipt.replayed) res.set('Idempotent-Replayed', 'true');
    res.json(receipt.result);
  });

  return router;
}
