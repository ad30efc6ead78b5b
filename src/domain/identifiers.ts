/** Targets and voters are strings chosen by the client: 1..256 characters (code points). */
export const maxIdentifierLength = 256;

export function identifierProblem(value: string): string | undefined {
  return textProblem(value, maxIdentifierLength);
}

/** What PostgreSQL text and a column of `maxLength` characters cannot hold, in words; undefined when it can. */
export function textProblem(value: string, maxLength: number): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (!value.isWellFormed()) return 'must be valid Unicode (no lone surrogates)';
  // PostgreSQL text cannot hold NUL; rejecting it here keeps a bad id from ever reaching the log.
  if (value.includes('\u0000')) return 'must not contain the NUL character';
  if (countCodePoints(value) > maxLength) return `must be at most ${maxLength} characters`;
  return undefined;
}

function countCodePoints(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}
