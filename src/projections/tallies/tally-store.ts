import type { PollKey, TallyKey } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';
import type { Tally } from '../../domain/tally.js';
import type { PollChange, StoredTallies } from './tally-projection.js';

export interface TallyReading {
  readonly tally: Tally;
  /** The asked voter's current value, 0 when none; undefined when no voter was asked for. */
  readonly voterValue?: number;
}

export interface RankedTally {
  readonly target: string;
  readonly tally: Tally;
}

export interface WithCheckpoint<T> {
  readonly checkpoint: string | undefined;
  readonly value: T;
}

/** A batch moves the projection's checkpoint from where the writer left it to its last event. */
export interface CheckpointMove {
  /** The checkpoint the batch was read after; undefined when it starts from the first event. */
  readonly from: string | undefined;
  readonly to: string;
  /**
   * Every poll with an event in the batch, written now or skipped because an earlier try of the
   * batch already wrote it: the checkpoint moves past all their writes. Undefined: the changes' polls.
   */
  readonly polls?: readonly PollKey[];
  /** The partition whose checkpoint moves; 0 unless given (the whole log, without partitions). */
  readonly partition?: number;
}

/**
 * The read model of tallies. Redis in production, an in-process map in the embedded default;
 * one contract test suite runs against both.
 */
export interface TallyStore {
  /** What the projector needs to fold a batch: current tallies and their polls' checkpoints. */
  loadTallies(keys: readonly TallyKey[]): Promise<StoredTallies>;
  /**
   * Writes each poll's change with the poll's checkpoint atomically (refused for a poll that no
   * longer holds the checkpoint it was folded from), then moves the projection's checkpoint.
   * Refused, writing nothing, unless the store is still at `move.from` when the write begins.
   */
  applyChanges(changes: readonly PollChange[], move: CheckpointMove): Promise<void>;
  /**
   * Makes `epoch` the leader whose writes to `partition` (0 unless given) the store takes; writes
   * of older leaders there are refused from then on. Answers the store's epoch afterwards: higher
   * than `epoch` when it was refused.
   */
  claimWriter(epoch: number, partition?: number): Promise<number>;
  /**
   * The position up to which the partition's polls have been applied; with no partition given,
   * the whole read model's: the earliest of every partition's.
   */
  readCheckpoint(partition?: number): Promise<string | undefined>;
  /** How many partitions the live read model is split into. */
  readonly partitions: number;
  readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]>;
  readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]>;
  /** The same, with the checkpoint they stand at, read together: what a query answers. */
  readTalliesWithCheckpoint(poll: PollKey, targets: readonly string[], voter?: string): Promise<WithCheckpoint<TallyReading[]>>;
  readTopWithCheckpoint(poll: PollKey, order: RankOrder, limit: number): Promise<WithCheckpoint<RankedTally[]>>;
  /**
   * Points the store at the live generation again; true when that moved it (a rebuild flipped
   * generations), so whatever the caller remembered about the old one no longer holds.
   */
  followLiveGeneration(): Promise<boolean>;
}

/**
 * Why a store refused a write. The writer forgets what it remembered and reads the store again:
 * a poll or the checkpoint is not where it left them (Redis lost data, or another writer moved
 * them), a rebuild flipped the live generation, or a newer leader took over.
 */
export type WriteRefusal = 'poll-moved' | 'checkpoint-moved' | 'generation-moved' | 'deposed';

export class WriteRefusedError extends Error {
  override readonly name = 'WriteRefusedError';

  constructor(
    readonly reason: WriteRefusal,
    message: string,
  ) {
    super(message);
  }
}
