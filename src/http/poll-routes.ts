import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import { getPoll, listPolls, type PollView } from '../catalog/polls.js';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { archivePoll, definePoll } from '../commands/polls.js';
import { maxTargetsLimit, pollKinds } from '../domain/poll.js';
import type { Database } from '../platform/database.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { jsonBody } from './json-body.js';
import { decodeInput, PollName } from './validation.js';

const DefinePollBody = Schema.Struct({
  kind: Schema.Literal(...pollKinds),
  min: Schema.optional(Schema.Int),
  max: Schema.optional(Schema.Int),
  maxTargets: Schema.optional(Schema.Int.pipe(Schema.between(1, maxTargetsLimit, { message: () => `must be an integer from 1 to ${maxTargetsLimit}` }))),
});
const PollParams = Schema.Struct({ poll: PollName });

export function pollRoutes(db: Kysely<Database>, keys: ProjectKeyCache): Router {
  const router = Router();
  const publicKey = requireProjectKey(keys, 'public');
  const secretKey = requireProjectKey(keys, 'secret');

  router.get('/v1/polls', publicKey, async (_req, res) => {
    const polls = await listPolls(db, authenticatedProject(res).id);
    res.json({ polls: polls.map(toPollBody) });
  });

  router.get('/v1/polls/:poll', publicKey, async (req, res) => {
    const { poll } = decodeInput(PollParams, req.params, 'path');
    res.json(toPollBody(await getPoll(db, authenticatedProject(res).id, poll)));
  });

  router.put('/v1/polls/:poll', secretKey, ...jsonBody, async (req, res) => {
    const { poll: name } = decodeInput(PollParams, req.params, 'path');
    const body = decodeInput(DefinePollBody, req.body, 'body');
    const { change, poll } = await definePoll(db, { projectId: authenticatedProject(res).id, name, ...body });
    res.status(change === 'created' ? 201 : 200).json({ ...toPollBody(poll), change });
  });

  router.delete('/v1/polls/:poll', secretKey, async (req, res) => {
    const { poll } = decodeInput(PollParams, req.params, 'path');
    await archivePoll(db, authenticatedProject(res).id, poll);
    res.status(204).end();
  });

  return router;
}

function toPollBody(poll: PollView) {
  return {
    name: poll.name,
    kind: poll.kind,
    ...(poll.kind === 'rating' ? { min: poll.min, max: poll.max } : {}),
    maxTargets: poll.maxTargets,
    archived: poll.archived,
    createdAt: poll.createdAt.toISOString(),
    archivedAt: poll.archivedAt?.toISOString() ?? null,
  };
}
