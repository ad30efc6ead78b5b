import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { ProjectKeyCache } from '../catalog/project-key-cache.js';
import { publicKeyPrefix, secretKeyPrefix } from '../catalog/project-keys.js';
import type { AuthenticatedProject } from '../catalog/projects.js';
import { ClickvoteError } from '../domain/errors.js';
import type { KeyAccess } from '../domain/voter-policy.js';
import { enforceAllowedOrigins } from './cors.js';
import { notCached } from '../platform/ttl-cache.js';

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Requires a project key; `secret` routes refuse public keys, `public` routes take either.
 * A remembered key is answered in the same turn, without a promise.
 */
export function requireProjectKey(keys: ProjectKeyCache, needed: KeyAccess): RequestHandler {
  const admit = (req: Request, res: Response, project: AuthenticatedProject | undefined) => {
    if (project === undefined) throw new ClickvoteError('unauthenticated', 'The key is not valid.');
    if (needed === 'secret' && project.access !== 'secret') {
      throw new ClickvoteError('forbidden', 'This route needs the project\'s secret key; public keys only vote and read.');
    }
    enforceAllowedOrigins(req, res, project);
    res.locals.project = project;
  };
  return (req, res, next) => {
    const key = bearerToken(req.headers.authorization);
    if (key === undefined) throw new ClickvoteError('unauthenticated', 'Send a project key as "Authorization: Bearer <key>".');
    const cached = keys.findCached(key);
    if (cached === notCached) {
      return keys.find(key).then((project) => {
        admit(req, res, project);
        next();
      });
    }
    admit(req, res, cached);
    next();
  };
}

export function authenticatedProject(res: Response): AuthenticatedProject {
  const project = res.locals.project as AuthenticatedProject | undefined;
  if (project === undefined) throw new Error('requireProjectKey must run before this handler');
  return project;
}

export function requireAdminToken(adminToken: string | undefined): RequestHandler {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return (req, _res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (token === undefined) throw new ClickvoteError('unauthenticated', 'Send the admin token as "Authorization: Bearer <token>".');
    if (expected === undefined) throw new ClickvoteError('forbidden', 'The admin API is off: ADMIN_TOKEN is not set.');
    if (!timingSafeEqual(digest(token), expected)) {
      const isProjectKey = token.startsWith(publicKeyPrefix) || token.startsWith(secretKeyPrefix);
      throw isProjectKey
        ? new ClickvoteError('forbidden', 'Project keys cannot use the admin API.')
        : new ClickvoteError('unauthenticated', 'The admin token is not valid.');
    }
    next();
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

const secretKeyInUrl = new RegExp(secretKeyPrefix.replaceAll('_', '(?:_|%5f)'), 'i');

/** A secret key in a URL is refused wherever it appears: URLs end up in proxy logs and browser history. */
export const refuseSecretKeyInUrl: RequestHandler = (req, _res, next) => {
  const query = req.url.indexOf('?');
  if (query !== -1 && secretKeyInUrl.test(req.url.slice(query))) {
    throw new ClickvoteError('forbidden', 'Secret keys never go in a URL: send them as "Authorization: Bearer <key>". Only public keys may go in ?key=.');
  }
  next();
};

/** EventSource cannot set Authorization, so a public key may come as `?key=`. */
export function publicKeyFromQuery(req: Request, _res: Response, next: () => void): void {
  const key = req.query.key;
  if (req.headers.authorization === undefined && typeof key === 'string') req.headers.authorization = `Bearer ${key}`;
  next();
}
