import type { PollRules } from '../domain/poll.js';
import { comparePositions, formatPosition, type LogPosition } from '../domain/position.js';
import { type RankOrder, rankScores } from '../domain/ranking.js';
import { applyBallotChange, emptyTally, type Tally } from '../domain/tally.js';
import type { LoggedVote } from './log-reader.js';
import { pollIdOf, type TallyKey, tallyIdOf } from './tally-key.js';

/** A tally as the read model holds it, with the position of the last event folded into it. */
export interface StoredTally {
  readonly tally: Tally;
  readonly checkpoint: string | undefined;
}

/** Everything one batch changes about one tally; written together with its checkpoint. */
export interface TallyChange {
  readonly key: TallyKey;
  /** The checkpoint the store must still hold for this change to apply. */
  readonly expectedCheckpoint: string | undefined;
  readonly checkpoint: string;
  readonly tally: Tally;
  /** Histogram buckets the batch emptied, to be removed from the stored tally. */
  readonly emptiedBuckets: readonly string[];
  /** Voter -> value after the batch; 0 means the voter no longer has a vote. */
  readonly voters: ReadonlyMap<string, number>;
  readonly scores: Partial<Record<RankOrder, number>>;
}

/**
 * Folds a batch in memory, one change per tally. Events a tally already holds (at or before its
 * checkpoint) are skipped, so replaying a batch after a crash never counts anything twice.
 */
export function foldTallies(
  events: readonly LoggedVote[],
  stored: ReadonlyMap<string, StoredTally>,
  rulesOf: (key: TallyKey) => PollRules,
): TallyChange[] {
  const working = new Map<string, { key: TallyKey; tally: Tally; checkpoint: LogPosition; voters: Map<string, number> }>();
  for (const event of events) {
    const id = tallyIdOf(event);
    const before = stored.get(id);
    if (before?.checkpoint !== undefined && !isAfter(event.position, before.checkpoint)) continue;
    const entry = working.get(id) ?? { key: keyOf(event), tally: before?.tally ?? emptyTally, checkpoint: event.position, voters: new Map() };
    entry.tally = applyBallotChange(entry.tally, event.previous, event.value);
    entry.checkpoint = event.position;
    entry.voters.set(event.voter, event.value);
    working.set(id, entry);
  }
  return [...working.entries()].map(([id, entry]) => {
    const before = stored.get(id);
    return {
      key: entry.key,
      expectedCheckpoint: before?.checkpoint,
      checkpoint: formatPosition(entry.checkpoint),
      tally: entry.tally,
      emptiedBuckets: Object.keys(before?.tally.histogram ?? {}).filter((bucket) => entry.tally.histogram[bucket] === undefined),
      voters: entry.voters,
      scores: rankScores(rulesOf(entry.key), entry.tally),
    };
  });
}

export function uniqueTallyKeys(events: readonly LoggedVote[]): TallyKey[] {
  return [...new Map(events.map((event) => [tallyIdOf(event), keyOf(event)])).values()];
}

export function uniquePollKeys(keys: readonly TallyKey[]) {
  return [...new Map(keys.map((key) => [pollIdOf(key), { projectId: key.projectId, poll: key.poll }])).values()];
}

function isAfter(position: LogPosition, checkpoint: string): boolean {
  const [transactionId, globalPosition] = checkpoint.split('.');
  return comparePositions(position, { transactionId: BigInt(transactionId!), globalPosition: BigInt(globalPosition!) }) > 0;
}

const keyOf = (event: TallyKey): TallyKey => ({ projectId: event.projectId, poll: event.poll, target: event.target });
