import { ClickvoteError } from './errors.js';
import { aPollOf, describeAllowedValues, isAllowedValue, type PollDefinition } from './poll.js';

/**
 * A ballot is one voter's vote on one target in one poll: the event stream and the aggregate.
 * Value 0 means the voter has no active vote (never voted, or retracted).
 */
export interface BallotState {
  readonly value: number;
  readonly version: number;
}

export const emptyBallot: BallotState = { value: 0, version: 0 };

/** Both events carry `previous`, so a projection can apply a delta without reading other state. */
export interface VoteCast {
  readonly type: 'VoteCast';
  readonly value: number;
  readonly previous: number;
}

/** A retraction is an event, not a delete: the log keeps that the vote existed and when it went. */
export interface VoteRetracted {
  readonly type: 'VoteRetracted';
  readonly previous: number;
}

export type BallotEvent = VoteCast | VoteRetracted;

export interface CastVote {
  readonly type: 'CastVote';
  readonly poll: PollDefinition;
  readonly value: number;
}

export type BallotCommand = CastVote;

export function decide(command: BallotCommand, state: BallotState): BallotEvent[] {
  switch (command.type) {
    case 'CastVote':
      return decideCastVote(command, state);
    default:
      return assertNever(command.type);
  }
}

function decideCastVote({ poll, value }: CastVote, state: BallotState): BallotEvent[] {
  if (poll.archived) {
    throw new ClickvoteError('poll_archived', `Poll "${poll.name}" is archived and takes no new votes.`);
  }
  if (!isAllowedValue(poll, value)) {
    throw new ClickvoteError('validation_failed', `${aPollOf(poll.kind, true)} takes ${describeAllowedValues(poll)}.`, [
      { field: 'value', message: `must be ${describeAllowedValues(poll)}` },
    ]);
  }
  if (value === state.value) return [];
  if (value === 0) return [{ type: 'VoteRetracted', previous: state.value }];
  return [{ type: 'VoteCast', value, previous: state.value }];
}

export function evolve(state: BallotState, event: BallotEvent): BallotState {
  switch (event.type) {
    case 'VoteCast':
      return { value: event.value, version: state.version + 1 };
    case 'VoteRetracted':
      return { value: 0, version: state.version + 1 };
    default:
      return assertNever(event);
  }
}

export function eventValue(event: BallotEvent): number {
  return event.type === 'VoteCast' ? event.value : 0;
}

function assertNever(value: never): never {
  throw new Error(`Unexpected ${JSON.stringify(value)}`);
}
