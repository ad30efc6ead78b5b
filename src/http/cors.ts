import type { Request, RequestHandler, Response } from 'express';
import type { AuthenticatedProject } from '../catalog/projects.js';
import { ClickvoteError } from '../domain/errors.js';

/**
 * The API is called from browsers on other sites. Keys travel as bearer tokens, never cookies,
 * so any origin may call it unless its project lists origins; a preflight is answered here.
 */
export const allowAnyOrigin: RequestHandler = (req, res, next) => {
  // Set directly: res.set() would check and convert each of these fixed values on every request.
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-headers', 'authorization, clickvote-voter, content-type, idempotency-key');
  res.setHeader('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE');
  res.setHeader('access-control-expose-headers', 'idempotent-replayed, ratelimit, ratelimit-policy, retry-after, x-request-id');
  res.setHeader('access-control-max-age', '600');
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};

/**
 * A project with allowed origins answers only those: a public-key request from any other origin
 * is refused and gets no CORS grant. Requests without an Origin (servers, curl) are not browsers
 * on someone else's page, so they pass. Preflights carry no key, so they cannot be told apart by
 * project; the request that follows is.
 */
export function enforceAllowedOrigins(req: Request, res: Response, project: AuthenticatedProject): void {
  if (project.access !== 'public' || project.allowedOrigins.length === 0) return;
  res.vary('Origin');
  const origin = req.get('origin');
  if (origin === undefined) return;
  if (!project.allowedOrigins.includes(origin)) {
    res.removeHeader('access-control-allow-origin');
    throw new ClickvoteError('origin_not_allowed', `This project's public key is not accepted from ${origin.slice(0, 200)}; add it to allowedOrigins.`);
  }
  res.set('access-control-allow-origin', origin);
}
