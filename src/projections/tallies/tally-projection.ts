import { pickPollKey, pickTallyKey, pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { PollRules } from '../../domain/poll.js';
import { comparePositions, formatPosition, type LogPosition, parsePosition } from '../../domain/position.js';
import { type RankOrder, rankScores } from '../../domain/ranking.js';
import { emptyTally, moveBallot, type Tally, type TallyAccumulator } from '../../domain/tally.js';
import type { LoggedVote } from '../log-queries/log-reader.js';

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

interface Working extends TallyAccumulator {
  readonly key: TallyKey;
  readonly before: StoredTally | undefined;
  readonly after: LogPosition | undefined;
  checkpoint: LogPosition | undefined;
  readonly voters: Map<string, number>;
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
  // Mutable per-tally accumulators: a batch touches hot tallies thousands of times.
  const working = new Map<string, Working>();
  for (const event of events) {
    const id = tallyIdOf(event);
    let entry = working.get(id);
    if (entry === undefined) {
      const before = stored.get(id);
      const tally = before?.tally ?? emptyTally;
      entry = {
        key: pickTallyKey(event),
        before,
        after: before?.checkpoint === undefined ? undefined : parsePosition(before.checkpoint),
        ...tally,
        histogram: { ...tally.histogram },
        checkpoint: undefined,
        voters: new Map(),
      };
      working.set(id, entry);
    }
    if (entry.after !== undefined && comparePositions(event.position, entry.after) <= 0) continue;
    moveBallot(entry, event.previous, event.value);
    entry.checkpoint = event.position;
    entry.voters.set(event.voter, event.value);
  }
  const changes: TallyChange[] = [];
  for (const entry of working.values()) {
    if (entry.checkpoint === undefined) continue;
    const tally: Tally = { count: entry.count, sum: entry.sum, up: entry.up, down: entry.down, histogram: entry.histogram };
    changes.push({
      key: entry.key,
      expectedCheckpoint: entry.before?.checkpoint,
      checkpoint: formatPosition(entry.checkpoint),
      tally,
      emptiedBuckets: Object.keys(entry.before?.tally.histogram ?? {}).filter((bucket) => tally.histogram[bucket] === undefined),
      voters: entry.voters,
      scores: rankScores(rulesOf(entry.key), tally),
    });
  }
  return changes;
}

export function uniqueTallyKeys(events: readonly LoggedVote[]): TallyKey[] {
  return [...new Map(events.map((event) => [tallyIdOf(event), pickTallyKey(event)])).values()];
}

export function uniquePollKeys(keys: readonly TallyKey[]) {
  return [...new Map(keys.map((key) => [pollIdOf(key), pickPollKey(key)])).values()];
}

