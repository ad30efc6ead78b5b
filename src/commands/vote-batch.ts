import { createHash } from 'node:crypto';
import { type BallotEvent, type BallotState, decide, emptyBallot, eventValue, evolve } from '../domain/ballot.js';
import { ClickvoteError, isClickvoteError } from '../domain/errors.js';
import { ballotIdOf, idempotencyIdOf, type IdempotencyKeyRef, pollIdOf, tallyIdOf } from '../domain/identity-keys.js';
import { type PollDefinition, pollNotFound } from '../domain/poll.js';
import type { VoteCommand, VoteOutcome, VoteReceipt, VoteResult } from '../domain/vote-command.js';

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
  readonly command: VoteCommand & IdempotencyKeyRef;
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

export const hasIdempotencyKey = (command: VoteCommand): command is VoteCommand & IdempotencyKeyRef => command.idempotencyKey !== undefined;

export function requestHashOf(c: VoteCommand): string {
  return createHash('sha256').update(JSON.stringify([c.poll, c.target, c.voter, c.value])).digest('base64url');
}

type Draft =
  | { readonly kind: 'failed'; readonly error: ClickvoteError }
  | { readonly kind: 'replayed'; readonly result: VoteResult }
  | { readonly kind: 'sameAs'; readonly index: number }
  | { readonly kind: 'decided'; readonly result: Omit<VoteResult, 'position'>; readonly position: PositionSource };

interface BallotSoFar {
  readonly state: BallotState;
  readonly position: PositionSource;
}

/** What the batch has planned so far; each step reads the stored state and this, and adds to this. */
interface Planned {
  readonly ballots: Map<string, BallotSoFar>;
  readonly keysSeen: Map<string, { requestHash: string; index: number }>;
  readonly events: EventToAppend[];
  readonly idempotencyKeys: IdempotencyKeyToSave[];
  readonly lastEvents: Map<string, BallotToSave>;
  readonly newTargets: Set<string>;
  readonly targetsAdded: Map<string, TargetsAdded>;
}

interface KeyedRequest {
  readonly command: VoteCommand & IdempotencyKeyRef;
  readonly keyId: string;
  readonly requestHash: string;
}

/** Idempotency replay, poll lookup, decide, target limit, evolve, result: each command in arrival order. */
export function planBatch(commands: readonly VoteCommand[], stored: BatchState): BatchPlan {
  const planned: Planned = {
    ballots: new Map(),
    keysSeen: new Map(),
    events: [],
    idempotencyKeys: [],
    lastEvents: new Map(),
    newTargets: new Set(),
    targetsAdded: new Map(),
  };
  const drafts = commands.map((command, index) => planCommand(command, index, stored, planned));
  return {
    events: planned.events,
    ballots: [...planned.lastEvents.values()],
    idempotencyKeys: planned.idempotencyKeys,
    targetsAdded: [...planned.targetsAdded.values()],
    outcomes: (positionOfEvent) => {
      const results: VoteOutcome[] = [];
      for (const draft of drafts) results.push(toOutcome(draft, results, positionOfEvent));
      return results;
    },
  };
}

function planCommand(command: VoteCommand, index: number, stored: BatchState, planned: Planned): Draft {
  const keyed = keyedRequestOf(command);
  const replay = keyed === undefined ? undefined : replayOf(keyed, stored, planned);
  if (replay !== undefined) return replay;
  const poll = stored.polls.get(pollIdOf(command));
  if (poll === undefined) return { kind: 'failed', error: pollNotFound(command.poll) };
  const ballotId = ballotIdOf(command);
  const current = planned.ballots.get(ballotId) ?? fromStored(stored.ballots.get(ballotId));
  const decided = decideVote(command, poll, current.state);
  if (decided instanceof ClickvoteError) return { kind: 'failed', error: decided };
  const refusal = decided.length === 0 ? undefined : admitTarget(command, poll, stored, planned);
  if (refusal !== undefined) return { kind: 'failed', error: refusal };
  const next = appendEvents(command, decided, current, stored, planned);
  const result = resultOf(command, decided, current.state);
  if (keyed !== undefined) {
    planned.keysSeen.set(keyed.keyId, { requestHash: keyed.requestHash, index });
    planned.idempotencyKeys.push({ command: keyed.command, requestHash: keyed.requestHash, result, position: next.position });
  }
  return { kind: 'decided', result, position: next.position };
}

function keyedRequestOf(command: VoteCommand): KeyedRequest | undefined {
  if (!hasIdempotencyKey(command)) return undefined;
  return { command, keyId: idempotencyIdOf(command), requestHash: requestHashOf(command) };
}

/** A key answered before (stored, or earlier in this batch): its answer again, or a refusal when the request differs. */
function replayOf(keyed: KeyedRequest, stored: BatchState, planned: Pick<Planned, 'keysSeen'>): Draft | undefined {
  const earlier = stored.idempotencyKeys.get(keyed.keyId) ?? planned.keysSeen.get(keyed.keyId);
  if (earlier === undefined) return undefined;
  if (earlier.requestHash !== keyed.requestHash) return { kind: 'failed', error: keyReused() };
  return 'result' in earlier ? { kind: 'replayed', result: earlier.result } : { kind: 'sameAs', index: earlier.index };
}

/** The decider's events, or the domain error it refused the vote with. */
function decideVote(command: VoteCommand, poll: PollDefinition, state: BallotState): BallotEvent[] | ClickvoteError {
  try {
    return decide({ type: 'CastVote', poll, value: command.value }, state);
  } catch (error) {
    if (isClickvoteError(error)) return error;
    throw error;
  }
}

/** A capped poll takes a target it does not have yet only while under its cap; counts the new one. */
function admitTarget(command: VoteCommand, poll: PollDefinition, stored: BatchState, planned: Pick<Planned, 'newTargets' | 'targetsAdded'>): ClickvoteError | undefined {
  const targetId = tallyIdOf(command);
  if (poll.maxTargets === null || stored.knownTargets.has(targetId) || planned.newTargets.has(targetId)) return undefined;
  const pollId = pollIdOf(command);
  const counted = planned.targetsAdded.get(pollId) ?? { projectId: command.projectId, poll: command.poll, added: 0 };
  if ((stored.targetCounts.get(pollId) ?? 0) + counted.added >= poll.maxTargets) return targetLimitReached(poll);
  planned.newTargets.add(targetId);
  planned.targetsAdded.set(pollId, { ...counted, added: counted.added + 1 });
  return undefined;
}

/** Evolves the ballot through the decided events, queueing each for the log and the ballot's row for saving. */
function appendEvents(command: VoteCommand, decided: readonly BallotEvent[], current: BallotSoFar, stored: BatchState, planned: Planned): BallotSoFar {
  const ballotId = ballotIdOf(command);
  let next = current;
  for (const event of decided) {
    const state = evolve(next.state, event);
    planned.events.push({ command, event, streamVersion: state.version });
    next = { state, position: { eventId: command.eventId } };
    planned.lastEvents.set(ballotId, { command, state, lastEventId: command.eventId, stored: stored.ballots.has(ballotId) });
  }
  planned.ballots.set(ballotId, next);
  return next;
}

function resultOf(command: VoteCommand, decided: readonly BallotEvent[], before: BallotState): Omit<VoteResult, 'position'> {
  const [event] = decided;
  const value = event === undefined ? before.value : eventValue(event);
  return { poll: command.poll, target: command.target, voter: command.voter, value, previous: before.value, changed: event !== undefined };
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

function fromStored(ballot: StoredBallot | undefined): BallotSoFar {
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
