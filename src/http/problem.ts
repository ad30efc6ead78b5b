import type { ErrorRequestHandler, Response } from 'express';
import { ClickvoteError, type ErrorCode, isClickvoteError } from '../domain/errors.js';
import { isConnectionLost } from '../platform/database.js';

/** What can go wrong with a request before the service looks at it: the http layer's own codes. */
export type TransportErrorCode = 'malformed_json' | 'route_not_found' | 'unsupported_media_type';
export type ProblemCode = ErrorCode | TransportErrorCode;
export type Problem = ClickvoteError<ProblemCode>;

export const transportError = (code: TransportErrorCode, message: string): Problem => new ClickvoteError<ProblemCode>(code, message);

/** The one place where error codes become HTTP statuses (RFC 9457 problem documents). */
const problems: Record<ProblemCode, { status: number; title: string }> = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  malformed_request: { status: 400, title: 'The request is malformed' },
  unauthenticated: { status: 401, title: 'A valid key is required' },
  voter_token_invalid: { status: 401, title: 'A valid voter token is required' },
  forbidden: { status: 403, title: 'This key may not do that' },
  origin_not_allowed: { status: 403, title: 'This origin may not use the project\'s public key' },
  route_not_found: { status: 404, title: 'No such route' },
  key_not_found: { status: 404, title: 'No such key' },
  poll_not_found: { status: 404, title: 'No such poll' },
  poll_definition_conflict: { status: 409, title: 'The poll cannot change that way' },
  poll_target_limit_reached: { status: 409, title: 'The poll takes no new targets' },
  rebuild_in_progress: { status: 409, title: 'A rebuild is already running' },
  rebuild_unavailable: { status: 409, title: 'This read model is not rebuilt on demand' },
  last_key_of_kind: { status: 409, title: 'A project keeps at least one key of each kind' },
  poll_archived: { status: 410, title: 'The poll is archived' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was used for another request' },
  too_many_streams: { status: 429, title: 'Too many open streams' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  read_model_full: { status: 507, title: 'The embedded read model is full' },
  unavailable: { status: 503, title: 'Service unavailable' },
  database_unavailable: { status: 503, title: 'The database cannot be reached; try again shortly' },
  projection_behind: { status: 503, title: 'The tallies have not caught up with that position yet' },
  over_capacity: { status: 503, title: 'This server is at capacity' },
};

export function statusOf(code: ProblemCode): number {
  return problems[code].status;
}

export function sendProblem(res: Response, error: Problem): void {
  const { status, title } = problems[error.code];
  res.locals.problem = error.code;
  // A rate limit knows when its window ends and says so before throwing; the rest retry after a second.
  if ((status === 503 || status === 429) && !res.hasHeader('Retry-After')) res.set('Retry-After', '1');
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: `urn:clickvote:problem:${error.code}`,
      title,
      status,
      detail: error.message,
      ...(error.fieldProblems.length > 0 ? { errors: error.fieldProblems } : {}),
      ...error.extensions,
      requestId: res.req.id,
    });
}

const bodyParserErrors: Record<string, ProblemCode> = {
  'entity.too.large': 'payload_too_large',
  'entity.parse.failed': 'malformed_json',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
};

/** Turns anything thrown below into a ClickvoteError; unknown failures become `internal`. */
export function toClickvoteError(error: unknown): Problem {
  if (isClickvoteError(error)) return error;
  if (isConnectionLost(error)) {
    return new ClickvoteError('database_unavailable', 'The database connection was lost before this request was answered; send it again shortly.');
  }
  const { type, status } = (error ?? {}) as { type?: string; status?: number };
  const bodyCode = type === undefined ? undefined : bodyParserErrors[type];
  if (bodyCode !== undefined) return new ClickvoteError<ProblemCode>(bodyCode, describeBodyError(bodyCode));
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ClickvoteError('malformed_request', error instanceof Error ? error.message : 'Malformed request.');
  }
  return new ClickvoteError('internal', 'Something went wrong on our side; the request id helps find it in the logs.');
}

function describeBodyError(code: ProblemCode): string {
  switch (code) {
    case 'payload_too_large':
      return 'Request bodies are limited to 16 KiB.';
    case 'malformed_json':
      return 'The body could not be parsed as JSON.';
    default:
      return 'The body must be UTF-8 encoded JSON.';
  }
}

export const problemHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const problem = toClickvoteError(error);
  if (problem.code === 'internal') req.log.error({ err: error }, 'request failed');
  else req.log.warn({ problem: problem.code, detail: problem.message, errors: problem.fieldProblems }, 'request rejected');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendProblem(res, problem);
};
