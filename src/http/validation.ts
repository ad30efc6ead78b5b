import { Either, type ParseResult, Schema } from 'effect';
import { ClickvoteError, type FieldProblem } from '../domain/errors.js';
import { identifierProblem } from '../domain/identifiers.js';
import { isValidPollName, pollNameRule } from '../domain/poll.js';
import { problemsOf } from './field-problems.js';

export const Identifier = Schema.String.pipe(Schema.filter((value) => identifierProblem(value) ?? true));
export const PollName = Schema.String.pipe(Schema.filter((value) => isValidPollName(value) || `must be ${pollNameRule}`));
// Every moment the log can hold lies in these years, which both database drivers can also print;
// an instant outside them (JavaScript reaches year 275760) means the same as the bound.
const earliestInstant = new Date('0001-01-01T00:00:00.000Z');
const latestInstant = new Date('9999-12-31T23:59:59.999Z');

/** An ISO 8601 date and time, clamped to what PostgreSQL and its drivers hold. */
export const Instant = Schema.transform(Schema.Date, Schema.DateFromSelf, {
  strict: true,
  decode: (date) => (date < earliestInstant ? earliestInstant : date > latestInstant ? latestInstant : date),
  encode: (date) => date,
}).annotations({ message: () => 'must be an ISO 8601 date and time' });

/** One target, or the query key repeated: 1 to `max` of them. */
export const Targets = (max: number) =>
  Schema.Union(Identifier, Schema.Array(Identifier).pipe(Schema.minItems(1), Schema.maxItems(max, { message: () => `must be 1 to ${max} targets` })));

// Building a decoder is far dearer than running one, so each schema's is built once.
const decoders = new WeakMap<object, (input: unknown) => Either.Either<unknown, ParseResult.ParseError>>();

function decoderOf<A, I>(schema: Schema.Schema<A, I>): (input: unknown) => Either.Either<A, ParseResult.ParseError> {
  let decoder = decoders.get(schema);
  if (decoder === undefined) {
    decoder = Schema.decodeUnknownEither(schema, { errors: 'all', onExcessProperty: 'error' }) as (input: unknown) => Either.Either<unknown, ParseResult.ParseError>;
    decoders.set(schema, decoder);
  }
  return decoder as (input: unknown) => Either.Either<A, ParseResult.ParseError>;
}

/** Decodes untrusted input at the edge: unknown fields are errors, every problem names its field. */
export function decodeInput<A, I>(schema: Schema.Schema<A, I>, input: unknown, what: string, fieldPrefix = ''): A {
  const result = decoderOf(schema)(input);
  if (Either.isRight(result)) return result.right;
  // Only a body can be absent: the JSON parser leaves it undefined when none was sent.
  if (input === undefined) throw new ClickvoteError('validation_failed', `A JSON ${what} is required.`, [{ field: what, message: `a JSON ${what} is required` }]);
  const problems: FieldProblem[] = problemsOf(result.left.issue).map((problem) => ({
    field: fieldPrefix + (problem.path.length === 0 ? what : problem.path.join('.')),
    message: problem.message,
  }));
  throw new ClickvoteError('validation_failed', `The ${what} is not valid.`, problems);
}

/**
 * `decodeInput` with a plain check for the usual shape first. `isCommon` must accept only input
 * that the schema decodes to itself; whatever else arrives (and every error) goes through Schema.
 */
export function decodeCommonInput<A, I>(schema: Schema.Schema<A, I>, isCommon: (input: unknown) => input is A, input: unknown, what: string): A {
  return isCommon(input) ? input : decodeInput(schema, input, what);
}

export const isIdentifier = (value: unknown): value is string => typeof value === 'string' && identifierProblem(value) === undefined;
export const isPollName = (value: unknown): value is string => typeof value === 'string' && isValidPollName(value);

/** An object (as JSON.parse, express's params and the query parser make) with no own keys but these. */
export function hasOnlyKeys(value: unknown, allowed: ReadonlySet<string>): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const key of Object.keys(value)) if (!allowed.has(key)) return false;
  return true;
}
