import type { RankOrder } from '../domain/ranking.js';
import type { Tally } from '../domain/tally.js';
import type { StoredTally, TallyChange } from './tally-projection.js';
import type { PollKey, TallyKey } from './tally-key.js';

export interface TallyReading {
  readonly tally: Tally;
  /** The asked voter's current value, 0 when none; undefined when no voter was asked for. */
  readonly voterValue?: number;
}

export interface RankedTally {
  readonly target: string;
  readonly tally: Tally;
}

/**
 * The read model of tallies. Redis in production, an in-process map in the embedded default;
 * one contract test suite runs against both.
 */
export interface TallyStore {
  /** What the projector needs to fold a batch: current tallies and their checkpoints. */
  loadTallies(keys: readonly TallyKey[]): Promise<Map<string, StoredTally>>;
  /** Writes every change with its checkpoint atomically per tally, then the projection's checkpoint. */
  applyChanges(changes: readonly TallyChange[], checkpoint: string): Promise<void>;
  /** The position up to which the whole log has been applied. */
  readCheckpoint(): Promise<string | undefined>;
  readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]>;
  readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]>;
  /**
   * Points the store at the live generation again; true when that moved it (a rebuild flipped
   * generations), so whatever the caller remembered about the old one no longer holds.
   */
  followLiveGeneration(): Promise<boolean>;
}

export class StaleTallyError extends Error {
  override readonly name = 'StaleTallyError';
}
