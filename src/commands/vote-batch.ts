import { createHash } from 'node:crypto';
import { type BallotEvent, type BallotState, decide, emptyBallot, eventValue, evolve } from '../domain/ballot.js';
import { ClickvoteError, isClickvoteError } from '../domain/errors.js';
import { ballotIdOf, idempotencyIdOf, pollIdOf, tallyIdOf } from '../domain/identity-keys.js';
import type { PollDefinition } from '../domain/poll.js';
import type { VoteCommand, VoteOutcome, VoteReceipt, VoteResult } from './vote-command.js';

/**
 * The pure middle of a group commit: given the stored state a batch touches, decide every command
 * in arrival order. Several commands on one ballot (a double click) see each other's effects.
 */
export interface StoredBallot extends BallotState {
  readonly position: string;
}

export interface StoredIdempotencyKey {
  readonly requestHash: string;
  readonly result: VoteResult;
}

export interface BatchState {
  readonly polls: ReadonlyMap<string, PollDefinition>;
  readonly ballots: ReadonlyMap<string, StoredBallot>;
  readonly idempotencyKeys: ReadonlyMap<string, StoredIdempotencyKey>;
  /** Polls with a target limit: how many targets each has. */
  readonly targetCounts: ReadonlyMap<string, number>;
  /** Of the batch's targets in polls with a limit, those the poll already has. */
  readonly knownTargets: ReadonlySet<string>;
}

export interface EventToAppend {
  readonly command: VoteCommand;
  readonly event: BallotEvent;
  readonly streamVersion: number;
}

export interface BallotToSave {
  readonly command: VoteCommand;
  readonly state: BallotState;
  readonly lastEventId: string;
  /** Whether the ballot had a row before this batch: update it, else insert one. */
  readonly stored: boolean;
}

/** Where a result's position comes from: an event appended in this batch, or a stored token. */
export type PositionSource = { readonly eventId: string } | { readonly token: string | null };

export interface IdempotencyKeyToSave {
  readonly command: VoteCommand;
  readonly requestHash: string;
  readonly result: Omit<VoteResult, 'position'>;
  readonly position: PositionSource;
}

export interface TargetsAdded {
  readonly projectId: string;
  readonly poll: string;
  readonly added: number;
}

export interface BatchPlan {
  readonly events: EventToAppend[];
  readonly ballots: BallotToSave[];
  readonly idempotencyKeys: IdempotencyKeyToSave[];
  /** New targets in polls with a limit, for their counts. */
  readonly targetsAdded: TargetsAdded[];
  /** Builds each caller's outcome once the appended events have positions. */
  readonly outcomes: (positionOfEvent: (eventId: string) => string) => VoteOutcome[];
}

export function requestHashOf(c: VoteCommand): string {
  return createHash('sha256').update(JSON.stringify([c.poll, c.target, c.voter, c.value])).digest('base64url');
}

type Draft =
  | { readonly kind: 'failed'; readonly error: ClickvoteError }
  | { readonly kind: 'replayed'; readonly result: VoteResult }
  | { readonly kind: 'sameAs'; readonly index: number }
  | { readonly kind: 'decided'; readonly result: Omit<VoteResult, 'position'>; readonly position: PositionSource };

export function planBatch(commands: readonly VoteCommand[], stored: BatchState): BatchPlan {
  const ballots = new Map<string, { state: BallotState; position: PositionSource }>();
  const keysSeen = new Map<string, { requestHash: string; index: number }>();
  const events: EventToAppend[] = [];
  const idempotencyKeys: IdempotencyKeyToSave[] = [];
  const lastEvents = new Map<string, BallotToSave>();
  const newTargets = new Set<string>();
  const targetsAdded = new Map<string, TargetsAdded>();

  const drafts = commands.map((command, index): Draft => {
    const { idempotencyKey } = command;
    const requestHash = idempotencyKey === undefined ? undefined : requestHashOf(command);
    const keyId = idempotencyKey === undefined ? undefined : idempotencyIdOf({ projectId: command.projectId, idempotencyKey });
    if (requestHash !== undefined && keyId !== undefined) {
      const earlier = stored.idempotencyKeys.get(keyId) ?? keysSeen.get(keyId);
      if (earlier !== undefined) {
        if (earlier.requestHash !== requestHash) return { kind: 'failed', error: keyReused() };
        return 'result' in earlier ? { kind: 'replayed', result: earlier.result } : { kind: 'sameAs', index: earlier.index };
      }
    }
    const poll = stored.polls.get(pollIdOf(command));
    if (poll === undefined) return { kind: 'failed', error: pollNotFound(command.poll) };

    const ballotKey = ballotIdOf(command);
    const current = ballots.get(ballotKey) ?? fromStored(stored.ballots.get(ballotKey));
    let decided: BallotEvent[];
    try {
      decided = decide({ type: 'CastVote', poll, value: command.value }, current.state);
    } catch (error) {
      if (isClickvoteError(error)) return { kind: 'failed', error };
      throw error;
    }
    if (decided.length > 0 && poll.maxTargets !== null && !stored.knownTargets.has(tallyIdOf(command)) && !newTargets.has(tallyIdOf(command))) {
      const counted = targetsAdded.get(pollIdOf(command)) ?? { projectId: command.projectId, poll: command.poll, added: 0 };
      if ((stored.targetCounts.get(pollIdOf(command)) ?? 0) + counted.added >= poll.maxTargets) return { kind: 'failed', error: targetLimitReached(poll) };
      newTargets.add(tallyIdOf(command));
      targetsAdded.set(pollIdOf(command), { ...counted, added: counted.added + 1 });
    }
    let next = current;
    for (const event of decided) {
      const state = evolve(next.state, event);
      events.push({ command, event, streamVersion: state.version });
      next = { state, position: { eventId: command.eventId } };
      lastEvents.set(ballotKey, { command, state, lastEventId: command.eventId, stored: stored.ballots.has(ballotKey) });
    }
    ballots.set(ballotKey, next);
    const [event] = decided;
    const value = event === undefined ? current.state.value : eventValue(event);
    const result = { poll: command.poll, target: command.target, voter: command.voter, value, previous: current.state.value, changed: event !== undefined };
    if (requestHash !== undefined && keyId !== undefined) {
      keysSeen.set(keyId, { requestHash, index });
      idempotencyKeys.push({ command, requestHash, result, position: next.position });
    }
    return { kind: 'decided', result, position: next.position };
  });

  return {
    events,
    ballots: [...lastEvents.values()],
    idempotencyKeys,
    targetsAdded: [...targetsAdded.values()],
    outcomes: (positionOfEvent) => {
      const results: VoteOutcome[] = [];
      for (const draft of drafts) results.push(toOutcome(draft, results, positionOfEvent));
      return results;
    },
  };
}

function toOutcome(draft: Draft, earlier: readonly VoteOutcome[], positionOfEvent: (eventId: string) => string): VoteOutcome {
  switch (draft.kind) {
    case 'failed':
      return { ok: false, error: draft.error };
    case 'replayed':
      return { ok: true, receipt: { result: draft.result, replayed: true } };
    case 'sameAs': {
      const first = earlier[draft.index]!;
      return first.ok ? { ok: true, receipt: { result: first.receipt.result, replayed: true } } : first;
    }
    case 'decided': {
      const position = 'eventId' in draft.position ? positionOfEvent(draft.position.eventId) : draft.position.token;
      const receipt: VoteReceipt = { result: { ...draft.result, position }, replayed: false };
      return { ok: true, receipt };
    }
  }
}

function fromStored(ballot: StoredBallot | undefined): { state: BallotState; position: PositionSource } {
  if (ballot === undefined) return { state: emptyBallot, position: { token: null } };
  return { state: { value: ballot.value, version: ballot.version }, position: { token: ballot.position } };
}

const keyReused = () =>
  new ClickvoteError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body.');
const targetLimitReached = (poll: PollDefinition) =>
  new ClickvoteError(
    'poll_target_limit_reached',
    `Poll "${poll.name}" takes votes on at most ${poll.maxTargets} targets and has them all; votes on those targets still count.`,
  );
const pollNotFound = (poll: string) => new ClickvoteError('poll_not_found', `Poll "${poll}" does not exist.`);
