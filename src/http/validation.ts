import { Either, ParseResult, Schema } from 'effect';
import { ClickvoteError, type FieldProblem } from '../domain/errors.js';
import { identifierProblem } from '../domain/identifiers.js';
import { isValidPollName, pollNameRule } from '../domain/poll.js';

export const Identifier = Schema.String.pipe(Schema.filter((value) => identifierProblem(value) ?? true));
export const PollName = Schema.String.pipe(Schema.filter((value) => isValidPollName(value) || `must be ${pollNameRule}`));

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
  const problems: FieldProblem[] = ParseResult.ArrayFormatter.formatErrorSync(result.left).map((issue) => ({
    field: fieldPrefix + (issue.path.length === 0 ? what : issue.path.join('.')),
    message: issue.message,
  }));
  throw new ClickvoteError('validation_failed', `The ${what} is not valid.`, problems);
}
