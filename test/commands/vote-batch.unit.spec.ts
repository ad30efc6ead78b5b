import { describe, expect, it } from 'vitest';
import { type BatchState, planBatch, requestHashOf, type StoredBallot } from '../../src/commands/vote-batch.js';
import type { VoteCommand, VoteOutcome } from '../../src/domain/vote-command.js';
import { ballotIdOf, idempotencyIdOf, pollIdOf, tallyIdOf } from '../../src/domain/identity-keys.js';
import type { PollDefinition } from '../../src/domain/poll.js';

const projectId = '00000000-0000-4000-8000-000000000001';
const stars: PollDefinition = { name: 'stars', kind: 'rating', min: 1, max: 5, archived: false, maxTargets: null };
let eventCounter = 0;

function aVote(overrides: Partial<VoteCommand> = {}): VoteCommand {
  eventCounter += 1;
  return {
    projectId, poll: 'stars', target: 'post-1', voter: 'ada', value: 4, idempotencyKey: undefined,
    eventId: `event-${eventCounter}`, now: new Date('2026-11-27T08:00:00Z'), metadata: {}, ...overrides,
  };
}

/** A stored state the batch finds after its locks; each `given*` adds to it. */
function givenStore() {
  const state = {
    polls: new Map<string, PollDefinition>([[pollIdOf({ projectId, poll: 'stars' }), stars]]),
    ballots: new Map<string, StoredBallot>(),
    idempotencyKeys: new Map(),
    targetCounts: new Map<string, number>(),
    knownTargets: new Set<string>(),
  } satisfies BatchState;
  return {
    state,
    withPoll(poll: PollDefinition, targets?: readonly string[]) {
      state.polls.set(pollIdOf({ projectId, poll: poll.name }), poll);
      if (targets !== undefined) {
        state.targetCounts.set(pollIdOf({ projectId, poll: poll.name }), targets.length);
        for (const target of targets) state.knownTargets.add(tallyIdOf({ projectId, poll: poll.name, target }));
      }
      return this;
    },
    withBallot(vote: VoteCommand, ballot: StoredBallot) {
      state.ballots.set(ballotIdOf(vote), ballot);
      return this;
    },
    withAnsweredKey(vote: VoteCommand & { idempotencyKey: string }, position: string) {
      const result = { poll: vote.poll, target: vote.target, voter: vote.voter, value: vote.value, previous: 0, changed: true, position };
      state.idempotencyKeys.set(idempotencyIdOf(vote), { requestHash: requestHashOf(vote), result });
      return this;
    },
  };
}

const positionOf = (eventId: string) => `100.${eventId.replace('event-', '')}`;
const errorCodes = (outcomes: VoteOutcome[]) => outcomes.map((outcome) => (outcome.ok ? 'ok' : (outcome.error as { code?: string }).code));

describe('planning a batch of votes', () => {
  it('given a fresh ballot, when a vote arrives, then one VoteCast is appended and the ballot inserted', () => {
    const { state } = givenStore();
    const vote = aVote({ value: 4 });

    const plan = planBatch([vote], state);

    expect(plan.events).toEqual([{ command: vote, event: { type: 'VoteCast', value: 4, previous: 0 }, streamVersion: 1 }]);
    expect(plan.ballots).toEqual([{ command: vote, state: { value: 4, version: 1 }, lastEventId: vote.eventId, stored: false }]);
    expect(plan.outcomes(positionOf)).toEqual([
      { ok: true, receipt: { result: { poll: 'stars', target: 'post-1', voter: 'ada', value: 4, previous: 0, changed: true, position: positionOf(vote.eventId) }, replayed: false } },
    ]);
  });

  it('given a stored ballot, when the same value arrives, then nothing is appended and the stored position is answered', () => {
    const vote = aVote({ value: 3 });
    const { state } = givenStore().withBallot(vote, { value: 3, version: 2, position: '90.7' });

    const plan = planBatch([vote], state);

    expect(plan.events).toEqual([]);
    expect(plan.ballots).toEqual([]);
    expect(plan.outcomes(positionOf)).toMatchObject([{ ok: true, receipt: { result: { value: 3, previous: 3, changed: false, position: '90.7' } } }]);
  });

  it('given two votes on one ballot in a batch (a double click), when planned, then the second sees the first', () => {
    const { state } = givenStore();
    const first = aVote({ value: 2 });
    const second = aVote({ value: 5 });

    const plan = planBatch([first, second], state);

    expect(plan.events.map(({ event, streamVersion }) => ({ ...event, streamVersion }))).toEqual([
      { type: 'VoteCast', value: 2, previous: 0, streamVersion: 1 },
      { type: 'VoteCast', value: 5, previous: 2, streamVersion: 2 },
    ]);
    expect(plan.ballots).toEqual([{ command: second, state: { value: 5, version: 2 }, lastEventId: second.eventId, stored: false }]);
  });

  it('given a key answered before, when the same request comes again, then its first answer is replayed and nothing appended', () => {
    const vote = aVote({ idempotencyKey: 'k-1' }) as VoteCommand & { idempotencyKey: string };
    const { state } = givenStore().withAnsweredKey(vote, '80.1');

    const plan = planBatch([vote], state);

    expect(plan.events).toEqual([]);
    expect(plan.outcomes(positionOf)).toMatchObject([{ ok: true, receipt: { replayed: true, result: { position: '80.1' } } }]);
  });

  it('given a key answered before, when a different request reuses it, then it fails with idempotency_key_reused', () => {
    const vote = aVote({ idempotencyKey: 'k-1' }) as VoteCommand & { idempotencyKey: string };
    const { state } = givenStore().withAnsweredKey(vote, '80.1');

    const plan = planBatch([{ ...vote, value: 1 }], state);

    expect(plan.events).toEqual([]);
    expect(errorCodes(plan.outcomes(positionOf))).toEqual(['idempotency_key_reused']);
  });

  it('given one key twice in a batch, when planned, then one event is appended, one key saved, and the second answer is a replay of the first', () => {
    const { state } = givenStore();
    const first = aVote({ idempotencyKey: 'k-2' });
    const again = { ...first, eventId: 'event-again' };

    const plan = planBatch([first, again], state);

    expect(plan.events).toHaveLength(1);
    expect(plan.idempotencyKeys).toHaveLength(1);
    const [one, two] = plan.outcomes(positionOf);
    expect(two).toEqual({ ok: true, receipt: { result: one!.ok ? one!.receipt.result : undefined, replayed: true } });
  });

  it('given no such poll, when a vote names it, then only that vote fails with poll_not_found', () => {
    const { state } = givenStore();

    const plan = planBatch([aVote({ poll: 'nope' }), aVote({ voter: 'bob' })], state);

    expect(errorCodes(plan.outcomes(positionOf))).toEqual(['poll_not_found', 'ok']);
    expect(plan.events).toHaveLength(1);
  });

  it('given a value the poll does not take, when planned, then the vote fails with validation_failed and appends nothing', () => {
    const { state } = givenStore();

    const plan = planBatch([aVote({ value: 9 })], state);

    expect(errorCodes(plan.outcomes(positionOf))).toEqual(['validation_failed']);
    expect(plan.events).toEqual([]);
  });

  it('given a poll at its target limit, when votes name a known and a new target, then the known one counts and the new one fails', () => {
    const capped: PollDefinition = { ...stars, name: 'capped', maxTargets: 1 };
    const { state } = givenStore().withPoll(capped, ['old']);

    const plan = planBatch([aVote({ poll: 'capped', target: 'old' }), aVote({ poll: 'capped', target: 'new' })], state);

    expect(errorCodes(plan.outcomes(positionOf))).toEqual(['ok', 'poll_target_limit_reached']);
    expect(plan.targetsAdded).toEqual([]);
  });

  it('given a poll with room for one more target, when two new targets arrive, then the first is added and counted, the second refused', () => {
    const capped: PollDefinition = { ...stars, name: 'capped', maxTargets: 2 };
    const { state } = givenStore().withPoll(capped, ['old']);

    const plan = planBatch([aVote({ poll: 'capped', target: 'a' }), aVote({ poll: 'capped', target: 'b' })], state);

    expect(errorCodes(plan.outcomes(positionOf))).toEqual(['ok', 'poll_target_limit_reached']);
    expect(plan.targetsAdded).toEqual([{ projectId, poll: 'capped', added: 1 }]);
  });
});
