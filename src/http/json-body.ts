import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { ClickvoteError } from '../domain/errors.js';
import { transportError } from './problem.js';

export const maxBodyBytes = 16 * 1024;
/** No request nests deeper than three levels; deeper bodies are refused before Schema walks them. */
export const maxBodyDepth = 16;

const emptyBodies = new WeakSet<IncomingMessage>();

const parseJson = express.json({
  limit: maxBodyBytes,
  strict: true,
  // The check before it has already refused every body that is not application/json.
  type: (req) => hasBody(req.headers),
  // The parser turns an empty body into {}; remember it was empty, so it can be called missing.
  verify: (req, _res, raw) => {
    if (raw.length === 0) emptyBodies.add(req);
  },
});

/**
 * Only application/json bodies of at most 16 KiB and 16 levels reach a route. A request without
 * a body leaves `req.body` undefined, whatever its Content-Type says.
 */
export const jsonBody: RequestHandler[] = [
  (req, _res, next) => {
    if (!hasBody(req.headers)) return next();
    const contentType = req.headers['content-type'];
    if (contentType === 'application/json') return next();
    if (contentType === undefined) throw transportError('unsupported_media_type', 'Send the body as application/json.');
    if (!req.is('application/json')) throw transportError('unsupported_media_type', `Send the body as application/json, not ${contentType}.`);
    next();
  },
  parseJson,
  (req, _res, next) => {
    if (emptyBodies.has(req)) req.body = undefined;
    if (nestsDeeperThan(req.body, maxBodyDepth)) {
      throw new ClickvoteError('validation_failed', `The body nests deeper than ${maxBodyDepth} levels.`, [
        { field: 'body', message: `must not nest deeper than ${maxBodyDepth} levels` },
      ]);
    }
    next();
  },
];

function hasBody(headers: Record<string, unknown>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** Iterative, so the depth of what a client sends never becomes the depth of our stack. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}
