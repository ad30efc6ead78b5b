import { pickPollKey, pickTallyKey, type PollKey, pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { PollRules } from '../../domain/poll.js';
import { comparePositions, formatPosition, type LogPosition, parsePosition } from '../../domain/position.js';
import { type RankOrder, rankScores } from '../../domain/ranking.js';
import { emptyTally, moveBallot, type Tally, type TallyAccumulator } from '../../domain/tally.js';
import type { LoggedVote } from '../log-queries/log-reader.js';

/**
 * What the read model holds of the tallies a batch touches: each tally, and each poll's checkpoint
 * (the position of the last event written to that poll). A poll's tallies and its checkpoint are
 * written together, so they always agree.
 */
export interface StoredTallies {
  /** By tallyIdOf; a tally the store does not hold is absent. */
  readonly tallies: ReadonlyMap<string, Tally>;
  /** By pollIdOf; a poll the store holds nothing of is absent. */
  readonly checkpoints: ReadonlyMap<string, string>;
}

/** Everything one batch changes about one tally. */
export interface TallyChange {
  readonly key: TallyKey;
  readonly tally: Tally;
  /** Histogram buckets the batch emptied, to be removed from the stored tally. */
  readonly emptiedBuckets: readonly string[];
  /** Voter -> value after the batch; 0 means the voter no longer has a vote. */
  readonly voters: ReadonlyMap<string, number>;
  readonly scores: Partial<Record<RankOrder, number>>;
}

/**
 * Everything one batch changes about one poll, written at once with the poll's new checkpoint, and
 * only if the poll still holds the checkpoint the batch was folded from: the exactly-once guard.
 */
export interface PollChange {
  readonly poll: PollKey;
  /** The checkpoint the store must still hold for this poll; undefined when it holds nothing of it. */
  readonly expectedCheckpoint: string | undefined;
  readonly checkpoint: string;
  readonly tallies: readonly TallyChange[];
}

/** More tallies than this in one poll and one batch are written as several changes, in log order. */
export const defaultTalliesPerChange = 2000;

interface Working extends TallyAccumulator {
  readonly key: TallyKey;
  readonly before: Tally;
  readonly voters: Map<string, number>;
}

interface PollFold {
  readonly poll: PollKey;
  /** The poll's stored checkpoint while an event of the batch may still lie at or before it. */
  skipUpTo: LogPosition | undefined;
  expected: string | undefined;
  last: LoggedVote | undefined;
  /** By target. */
  working: Map<string, Working>;
  /** Where each tally stands as the fold goes on, across the changes a big poll is cut into; by target. */
  readonly current: Map<string, Tally>;
  readonly done: PollChange[];
}

/**
 * Folds a batch in memory into changes per poll. Events a poll already holds (at or before its
 * checkpoint) are skipped, so replaying a batch after a crash never counts anything twice.
 * Runs once per event of a catch-up, so it keys by target within a poll and looks a poll up
 * only when the poll changes from one event to the next.
 */
export function foldTallies(
  events: readonly LoggedVote[],
  stored: StoredTallies,
  rulesOf: (key: TallyKey) => PollRules,
  talliesPerChange = defaultTalliesPerChange,
): PollChange[] {
  const polls = new Map<string, PollFold>();
  let fold: PollFold | undefined;
  for (const event of events) {
    if (fold === undefined || event.poll !== fold.poll.poll || event.projectId !== fold.poll.projectId) fold = pollFoldOf(polls, event, stored);
    if (fold.skipUpTo !== undefined) {
      if (comparePositions(event.position, fold.skipUpTo) <= 0) continue;
      fold.skipUpTo = undefined; // the batch is in log order: every later event of the poll lies after it too
    }
    let entry = fold.working.get(event.target);
    if (entry === undefined) {
      if (fold.working.size >= talliesPerChange) cutChange(fold, rulesOf);
      const before = fold.current.get(event.target) ?? stored.tallies.get(tallyIdOf(event)) ?? emptyTally;
      entry = { key: pickTallyKey(event), before, ...before, histogram: { ...before.histogram }, voters: new Map() };
      fold.working.set(event.target, entry);
    }
    moveBallot(entry, event.previous, event.value);
    entry.voters.set(event.voter, event.value);
    fold.last = event;
  }
  const changes: PollChange[] = [];
  for (const poll of polls.values()) {
    cutChange(poll, rulesOf);
    changes.push(...poll.done);
  }
  return changes;
}

function pollFoldOf(polls: Map<string, PollFold>, event: LoggedVote, stored: StoredTallies): PollFold {
  const pollId = pollIdOf(event);
  let fold = polls.get(pollId);
  if (fold === undefined) {
    const checkpoint = stored.checkpoints.get(pollId);
    const skipUpTo = checkpoint === undefined ? undefined : parsePosition(checkpoint);
    fold = { poll: pickPollKey(event), skipUpTo, expected: checkpoint, last: undefined, working: new Map(), current: new Map(), done: [] };
    polls.set(pollId, fold);
  }
  return fold;
}

/** Closes the poll's change so far (if it holds anything) and starts the next from its checkpoint. */
function cutChange(fold: PollFold, rulesOf: (key: TallyKey) => PollRules): void {
  if (fold.last === undefined || fold.working.size === 0) return;
  const tallies: TallyChange[] = [];
  for (const [target, entry] of fold.working) {
    const tally: Tally = { count: entry.count, sum: entry.sum, up: entry.up, down: entry.down, histogram: entry.histogram };
    fold.current.set(target, tally);
    tallies.push({
      key: entry.key,
      tally,
      emptiedBuckets: Object.keys(entry.before.histogram).filter((bucket) => tally.histogram[bucket] === undefined),
      voters: entry.voters,
      scores: rankScores(rulesOf(entry.key), tally),
    });
  }
  const checkpoint = formatPosition(fold.last.position);
  fold.done.push({ poll: fold.poll, expectedCheckpoint: fold.expected, checkpoint, tallies });
  fold.expected = checkpoint;
  fold.working = new Map();
}

/** A voter and their latest value on a target (0: retracted). */
export type LatestBallot = readonly [voter: string, value: number];

/**
 * A tally from scratch out of its ballots' latest values: each moved from "no vote" with the very
 * moves foldTallies makes, so the result equals the incremental fold's over the same log. A
 * retracted ballot counts nowhere and names no voter; a tally whose ballots all went stays, at 0.
 */
export function foldLatestBallots(key: TallyKey, ballots: readonly LatestBallot[], rules: PollRules): TallyChange {
  const tally: TallyAccumulator = { count: 0, sum: 0, up: 0, down: 0, histogram: {} };
  const voters = new Map<string, number>();
  for (const [voter, value] of ballots) {
    if (value === 0) continue;
    moveBallot(tally, 0, value);
    voters.set(voter, value);
  }
  return { key, tally, emptiedBuckets: [], voters, scores: rankScores(rules, tally) };
}

/** The tallies the events move, each once; a poll is looked up only when it changes from one event to the next. */
export function uniqueTallyKeys(events: readonly LoggedVote[]): TallyKey[] {
  const keys: TallyKey[] = [];
  const targetsByPoll = new Map<string, Set<string>>();
  let targets: Set<string> | undefined;
  let previous: LoggedVote | undefined;
  for (const event of events) {
    if (targets === undefined || event.poll !== previous!.poll || event.projectId !== previous!.projectId) {
      const pollId = pollIdOf(event);
      targets = targetsByPoll.get(pollId);
      if (targets === undefined) targetsByPoll.set(pollId, (targets = new Set()));
    }
    previous = event;
    if (targets.has(event.target)) continue;
    targets.add(event.target);
    keys.push(pickTallyKey(event));
  }
  return keys;
}

export function uniquePollKeys(keys: readonly PollKey[]): PollKey[] {
  return [...new Map(keys.map((key) => [pollIdOf(key), pickPollKey(key)])).values()];
}
