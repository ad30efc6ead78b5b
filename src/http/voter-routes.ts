import { Schema } from 'effect';
import { Router } from 'express';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { maxVoterTokenSeconds, randomVoterId, signVoterToken, type VoterToken } from '../commands/voter-tokens.js';
import { ClickvoteError } from '../domain/errors.js';
import type { ClientAddressHash } from './audit-metadata.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { jsonBody } from './json-body.js';
import type { RateLimits } from './rate-limits.js';
import { decodeInput, Identifier } from './validation.js';

const defaultTokenSeconds = 24 * 3600;
const MintTokenBody = Schema.Struct({
  voter: Identifier,
  ttlSeconds: Schema.optional(Schema.Int.pipe(Schema.between(1, maxVoterTokenSeconds))),
});

/** Voter tokens minted by the service: for any voter with the secret key, or for a new random voter under `anonymous`. */
export function voterRoutes(keys: ProjectKeyCache, rateLimits: RateLimits, clientAddressHash: ClientAddressHash): Router {
  const router = Router();

  router.post('/v1/voter-tokens', requireProjectKey(keys, 'secret'), ...jsonBody, async (req, res) => {
    const { voter, ttlSeconds } = decodeInput(MintTokenBody, req.body, 'body');
    const project = authenticatedProject(res);
    res.json(bodyOf(await signVoterToken(project.tokenKeys[0]!, project.id, voter, ttlSeconds ?? defaultTokenSeconds)));
  });

  router.post('/v1/voters', requireProjectKey(keys, 'public'), async (req, res) => {
    const project = authenticatedProject(res);
    if (project.voterPolicy !== 'anonymous') {
      throw new ClickvoteError('forbidden', `This project's voters are ${project.voterPolicy}: only anonymous projects mint voters here.`);
    }
    await rateLimits.consume(res, project, [['votersPerAddress', clientAddressHash(req)]]);
    res.status(201).json(bodyOf(await signVoterToken(project.tokenKeys[0]!, project.id, randomVoterId(), maxVoterTokenSeconds)));
  });

  return router;
}

function bodyOf(minted: VoterToken) {
  return { voter: minted.voter, token: minted.token, expiresAt: minted.expiresAt.toISOString() };
}
