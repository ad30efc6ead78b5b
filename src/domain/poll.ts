import { ClickvoteError, type FieldProblem } from './errors.js';

export const pollKinds = ['like', 'updown', 'rating'] as const;
export type PollKind = (typeof pollKinds)[number];

/**
 * Every kind is a range of allowed non-zero values; 0 always means "no vote".
 * like = 1..1, updown = -1..1, rating = min..max (default 1..5).
 */
export interface PollRules {
  readonly kind: PollKind;
  readonly min: number;
  readonly max: number;
}

export interface PollDefinition extends PollRules {
  readonly name: string;
  readonly archived: boolean;
  /** At most this many targets take votes; null: no limit. */
  readonly maxTargets: number | null;
}

/** The largest maxTargets a poll may set (the column is a PostgreSQL integer). */
export const maxTargetsLimit = 2_147_483_647;

export const ratingLimits = { lowest: 1, highest: 100, defaultMin: 1, defaultMax: 5 } as const;

const pollNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** "a like poll", "an updown poll": the article follows the sound of the kind. */
export function aPollOf(kind: PollKind, startsSentence = false): string {
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  return `${startsSentence ? article.replace('a', 'A') : article} ${kind} poll`;
}

export function isValidPollName(name: string): boolean {
  return pollNamePattern.test(name);
}

export const pollNameRule = 'letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters';

/** Turns a requested kind and optional bounds into the rules of a poll, or names what is wrong. */
export function definePollRules(kind: PollKind, min?: number, max?: number): PollRules {
  if (kind === 'like' || kind === 'updown') {
    const problems: FieldProblem[] = [];
    if (min !== undefined) problems.push({ field: 'min', message: `${aPollOf(kind)} has no min` });
    if (max !== undefined) problems.push({ field: 'max', message: `${aPollOf(kind)} has no max` });
    if (problems.length > 0) throw new ClickvoteError('validation_failed', 'Only rating polls take min and max.', problems);
    return kind === 'like' ? { kind, min: 1, max: 1 } : { kind, min: -1, max: 1 };
  }
  const lower = min ?? ratingLimits.defaultMin;
  const upper = max ?? ratingLimits.defaultMax;
  const problems: FieldProblem[] = [];
  if (lower < ratingLimits.lowest) problems.push({ field: 'min', message: `must be at least ${ratingLimits.lowest}` });
  if (upper > ratingLimits.highest) problems.push({ field: 'max', message: `must be at most ${ratingLimits.highest}` });
  if (lower >= upper) problems.push({ field: 'max', message: `must be greater than min (${lower})` });
  if (problems.length > 0) throw new ClickvoteError('validation_failed', 'The rating scale is not valid.', problems);
  return { kind, min: lower, max: upper };
}

export function isAllowedValue(rules: PollRules, value: number): boolean {
  return Number.isInteger(value) && (value === 0 || (value >= rules.min && value <= rules.max));
}

export function describeAllowedValues(rules: PollRules): string {
  switch (rules.kind) {
    case 'like':
      return '0 or 1';
    case 'updown':
      return '-1, 0 or 1';
    case 'rating':
      return `0 or an integer from ${rules.min} to ${rules.max}`;
  }
}

export function sameRules(a: PollRules, b: PollRules): boolean {
  return a.kind === b.kind && a.min === b.min && a.max === b.max;
}

export const pollNotFound = (name: string) => new ClickvoteError('poll_not_found', `Poll "${name}" does not exist.`);
