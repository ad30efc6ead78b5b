/**
 * The closed set of things that can go wrong, as the service names them (the http layer adds
 * its own transport codes). `src/http/problem.ts` alone decides which HTTP status each one becomes.
 */
export type ErrorCode =
  | 'validation_failed'
  | 'malformed_request'
  | 'payload_too_large'
  | 'unauthenticated'
  | 'voter_token_invalid'
  | 'forbidden'
  | 'origin_not_allowed'
  | 'key_not_found'
  | 'last_key_of_kind'
  | 'rate_limited'
  | 'poll_not_found'
  | 'poll_archived'
  | 'poll_definition_conflict'
  | 'poll_target_limit_reached'
  | 'idempotency_key_reused'
  | 'projection_behind'
  | 'too_many_streams'
  | 'over_capacity'
  | 'rebuild_in_progress'
  | 'rebuild_unavailable'
  | 'read_model_full'
  | 'unavailable'
  | 'database_unavailable'
  | 'internal';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** `Code` widens only at the http layer, which adds its transport codes. */
export class ClickvoteError<Code extends string = ErrorCode> extends Error {
  override readonly name = 'ClickvoteError';

  constructor(
    readonly code: NoInfer<Code>,
    message: string,
    readonly fieldProblems: readonly FieldProblem[] = [],
    /** Extra members of the problem document (RFC 9457 extensions) a client can act on. */
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export function isClickvoteError(error: unknown): error is ClickvoteError {
  return error instanceof ClickvoteError;
}
