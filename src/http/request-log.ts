import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Level, Logger } from 'pino';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id: the caller's X-Request-Id when it looks like one, else a new UUID. */
    id: string;
    /** A logger bound to the request id, made on first use. */
    log: Logger;
  }
}

const requestIdPattern = /^[\w.:-]{1,100}$/;
/** Query parameters whose values are secrets or personal data; their names alone are logged. */
const hiddenQueryParameters = new Set(['key', 'voter', 'token']);
const keyLike = /cv_[ps]k_/i;

const requestLogger = Symbol('requestLogger');
const boundLogger = Symbol('boundLogger');
const requestStarted = Symbol('requestStarted');

interface LoggedRequest extends IncomingMessage {
  [requestLogger]?: Logger;
  [boundLogger]?: Logger;
  [requestStarted]?: number;
}

// One getter on the prototype instead of one defined per request (which also reshapes every
// request object): the child logger is made only when a handler logs.
Object.defineProperty(IncomingMessage.prototype, 'log', {
  configurable: true,
  get(this: LoggedRequest) {
    return (this[boundLogger] ??= this[requestLogger]!.child({ reqId: this.id }));
  },
});

/**
 * One line per request, built only when its level is enabled: no child logger, no serialised
 * request unless something is written. Never the client address, headers, keys or voter ids.
 * (pino-http builds and serialises a child logger for every request, logged or not: a fifth of
 * the CPU of a vote at LOG_LEVEL=warn.) The listener is one shared function, not a closure per
 * request.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const logged = req as LoggedRequest;
    logged[requestLogger] = logger;
    logged[requestStarted] = performance.now();
    res.on('close', logRequest);
    next();
  };
}

function logRequest(this: Response): void {
  const req = this.req as Request & LoggedRequest;
  const logger = req[requestLogger]!;
  const level = levelOf(this);
  if (!logger.isLevelEnabled(level)) return;
  const responseTime = Math.round(performance.now() - req[requestStarted]!);
  const line = { reqId: req.id, req: { method: req.method, url: loggableUrl(req) }, res: { statusCode: this.statusCode }, responseTime };
  logger[level](line, this.writableFinished ? 'request completed' : 'request aborted');
}

function levelOf(res: Response): Level {
  if (res.statusCode >= 500) return 'error';
  return res.statusCode >= 400 ? 'warn' : 'info';
}

/** The path, and the query with the values of secret or personal parameters left out. */
export function loggableUrl(req: Request): string {
  const url = req.originalUrl;
  const start = url.indexOf('?');
  if (start === -1) return url;
  const query = new URLSearchParams(url.slice(start + 1));
  const shown = [...query].map(([name, value]) => `${encodeURIComponent(name)}=${hiddenQueryParameters.has(name.toLowerCase()) || keyLike.test(value) ? '-' : encodeURIComponent(value)}`);
  return `${url.slice(0, start)}?${shown.join('&')}`;
}
