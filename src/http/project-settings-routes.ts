import { Schema } from 'effect';
import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { listProjectKeys } from '../catalog/project-keys.js';
import { readProjectSettings } from '../catalog/projects.js';
import type { KeyUseRecorder } from '../commands/key-use.js';
import { addProjectKey, revokeProjectKey } from '../commands/project-keys.js';
import { updateProjectSettings } from '../commands/projects.js';
import { effectiveRateLimits, maxRateLimit, type RateLimitSettings } from '../domain/rate-limit-settings.js';
import { voterPolicies } from '../domain/voter-policy.js';
import type { Database } from '../platform/database.js';
import { authenticatedProject, requireProjectKey } from './auth.js';
import { jsonBody } from './json-body.js';
import { decodeInput } from './validation.js';

export interface DeploymentRateLimits {
  readonly enabled: boolean;
  readonly settings: RateLimitSettings;
}

const Origin = Schema.String.pipe(
  Schema.filter((value) => isOrigin(value) || 'must be an origin such as https://example.com or http://localhost:8080 (scheme, lower-case host and port only)'),
);
const Limit = Schema.NullOr(Schema.Int.pipe(Schema.between(1, maxRateLimit)));
const PatchSettingsBody = Schema.Struct({
  voterPolicy: Schema.optional(Schema.Literal(...voterPolicies)),
  allowedOrigins: Schema.optional(Schema.Array(Origin).pipe(Schema.maxItems(100))),
  rateLimits: Schema.optional(Schema.Struct({ votesPerAddress: Schema.optional(Limit), votesPerVoter: Schema.optional(Limit), votersPerAddress: Schema.optional(Limit) })),
});
const CreateKeyBody = Schema.Struct({ kind: Schema.Literal('public', 'secret') });
const KeyParams = Schema.Struct({ fingerprint: Schema.String.pipe(Schema.pattern(/^cv_[ps]k_[0-9a-f]{12}$/, { message: () => 'must be a key fingerprint such as cv_pk_0123456789ab' })) });

/** The settings and keys of the project whose secret key is used ("current"). */
export function projectSettingsRoutes(db: Kysely<Database>, keys: ProjectKeyCache, keyUses: KeyUseRecorder, limits: DeploymentRateLimits): Router {
  const router = Router();
  const secretKey = requireProjectKey(keys, 'secret');

  const currentSettings = async (projectId: string) => {
    await keyUses.flush();
    const [settings, projectKeys] = await Promise.all([readProjectSettings(db, projectId), listProjectKeys(db, projectId)]);
    return {
      ...settings,
      rateLimits: { enabled: limits.enabled, ...effectiveRateLimits(limits.settings, settings.rateLimits) },
      keys: projectKeys.map((key) => ({ ...key, createdAt: key.createdAt.toISOString(), lastUsedAt: key.lastUsedAt?.toISOString() ?? null })),
    };
  };

  router.get('/v1/projects/current', secretKey, async (_req, res) => {
    res.json(await currentSettings(authenticatedProject(res).id));
  });

  router.patch('/v1/projects/current', secretKey, ...jsonBody, async (req, res) => {
    const change = decodeInput(PatchSettingsBody, req.body, 'body');
    const projectId = authenticatedProject(res).id;
    await updateProjectSettings(db, projectId, change);
    keys.forget();
    res.json(await currentSettings(projectId));
  });

  router.post('/v1/projects/current/keys', secretKey, ...jsonBody, async (req, res) => {
    const { kind } = decodeInput(CreateKeyBody, req.body, 'body');
    const created = await addProjectKey(db, authenticatedProject(res).id, kind);
    keys.forget();
    res.status(201).json(created);
  });

  router.delete('/v1/projects/current/keys/:fingerprint', secretKey, async (req, res) => {
    const { fingerprint } = decodeInput(KeyParams, req.params, 'path');
    await revokeProjectKey(db, authenticatedProject(res).id, fingerprint);
    keys.forget();
    res.status(204).end();
  });

  return router;
}

function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
}
