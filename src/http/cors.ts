import type { RequestHandler } from 'express';

/**
 * The API is called from browsers on other sites. Keys travel as bearer tokens, never cookies,
 * so any origin may call it; a preflight is answered here.
 */
export const allowAnyOrigin: RequestHandler = (req, res, next) => {
  res.set({
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'authorization, clickvote-voter, content-type, idempotency-key',
    'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
    'access-control-expose-headers': 'idempotent-replayed, retry-after, x-request-id',
    'access-control-max-age': '600',
  });
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};
