import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Request, RequestHandler } from 'express';

/** One file served as a static asset: compressed once at start, never per request. */
export interface StaticAsset {
  /** The first 10 hex digits of the content's SHA-256: names the versioned path. */
  readonly hash: string;
  /** Answers GET with the best encoding the client accepts, an ETag and the given caching. */
  readonly handler: (cacheControl: string) => RequestHandler;
}

export function staticAsset(body: Buffer, contentType: string): StaticAsset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
  const encodings = {
    br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    gzip: gzipSync(body, { level: 9 }),
    identity: body,
  };
  return {
    hash,
    handler: (cacheControl) => (req, res) => {
      const encoding = acceptedEncoding(req);
      res.type(contentType).set({
        'cache-control': cacheControl,
        'x-content-type-options': 'nosniff',
        vary: 'Accept-Encoding',
        // Each encoding is its own representation, so each has its own strong ETag.
        etag: `"${hash}-${encoding}"`,
      });
      if (encoding !== 'identity') res.set('content-encoding', encoding);
      res.send(encodings[encoding]);
    },
  };
}

/** Brotli when accepted at all (it is the smallest), else gzip; browsers list gzip first at equal weight. */
function acceptedEncoding(req: Request): 'br' | 'gzip' | 'identity' {
  if (req.acceptsEncodings('br') === 'br') return 'br';
  return req.acceptsEncodings('gzip') === 'gzip' ? 'gzip' : 'identity';
}
