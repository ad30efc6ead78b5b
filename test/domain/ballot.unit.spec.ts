import { describe, expect, it } from 'vitest';
import { type BallotEvent, type BallotState, decide, emptyBallot, evolve } from '../../src/domain/ballot.js';
import { ClickvoteError } from '../../src/domain/errors.js';
import { definePollRules, type PollDefinition, type PollKind } from '../../src/domain/poll.js';

const poll = (kind: PollKind, archived = false): PollDefinition => ({ name: kind, archived, maxTargets: null, ...definePollRules(kind) });
const given = (...events: BallotEvent[]): BallotState => events.reduce(evolve, emptyBallot);
const when = (kind: PollKind, state: BallotState, value: number) => decide({ type: 'CastVote', poll: poll(kind), value }, state);
const cast = (value: number, previous: number): BallotEvent => ({ type: 'VoteCast', value, previous });
const retracted = (previous: number): BallotEvent => ({ type: 'VoteRetracted', previous });

const kinds: { kind: PollKind; values: number[]; invalid: number[] }[] = [
  { kind: 'like', values: [1], invalid: [-1, 2, 0.5, Number.NaN, Infinity] },
  { kind: 'updown', values: [-1, 1], invalid: [-2, 2, 0.5, Number.NaN] },
  { kind: 'rating', values: [1, 2, 3, 4, 5], invalid: [-1, 6, 2.5, Number.NaN, -Infinity] },
];

describe.each(kinds)('$kind poll', ({ kind, values, invalid }) => {
  describe('when the voter has no vote', () => {
    it.each(values)('casts %i', (value) => {
      expect(when(kind, emptyBallot, value)).toEqual([cast(value, 0)]);
    });

    it('appends nothing for a retraction', () => {
      expect(when(kind, emptyBallot, 0)).toEqual([]);
    });
  });

  describe.each(values)('when the voter has voted %i', (current) => {
    const state = given(cast(current, 0));

    it.each(values.filter((value) => value !== current))('changes the vote to %i, carrying the previous value', (value) => {
      expect(when(kind, state, value)).toEqual([cast(value, current)]);
    });

    it('retracts it with value 0', () => {
      expect(when(kind, state, 0)).toEqual([retracted(current)]);
    });

    it('appends nothing when the same value is cast again', () => {
      expect(when(kind, state, current)).toEqual([]);
    });
  });

  describe('when the voter retracted', () => {
    it('casts again from 0', () => {
      expect(when(kind, given(cast(values[0]!, 0), retracted(values[0]!)), values[0]!)).toEqual([cast(values[0]!, 0)]);
    });
  });

  it.each(invalid)('rejects %d, naming the value field', (value) => {
    const attempt = () => when(kind, emptyBallot, value);
    expect(attempt).toThrow(ClickvoteError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'validation_failed', fieldProblems: [expect.objectContaining({ field: 'value' })] }));
  });

  it('rejects every vote once the poll is archived', () => {
    expect(() => decide({ type: 'CastVote', poll: poll(kind, true), value: values[0]! }, emptyBallot)).toThrow(
      expect.objectContaining({ code: 'poll_archived' }),
    );
  });
});

describe('evolve', () => {
  it('counts every event into the version and keeps the latest value', () => {
    expect(given(cast(1, 0), cast(-1, 1), retracted(-1), cast(1, 0))).toEqual({ value: 1, version: 4 });
  });
});
