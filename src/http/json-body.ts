import express, { type RequestHandler } from 'express';
import { ClickvoteError } from '../domain/errors.js';

export const maxBodyBytes = 16 * 1024;

const parseJson = express.json({ limit: maxBodyBytes, strict: true, type: 'application/json' });

/** Only application/json bodies of at most 16 KiB reach a route. */
export const jsonBody: RequestHandler[] = [
  (req, _res, next) => {
    const contentType = req.get('content-type');
    if (contentType !== undefined && !req.is('application/json')) {
      throw new ClickvoteError('unsupported_media_type', `Send the body as application/json, not ${contentType}.`);
    }
    if (contentType === undefined && hasBody(req.headers)) {
      throw new ClickvoteError('unsupported_media_type', 'Send the body as application/json.');
    }
    next();
  },
  parseJson,
];

function hasBody(headers: Record<string, unknown>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
