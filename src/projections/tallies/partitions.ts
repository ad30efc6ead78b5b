import { type PollKey, pollIdOf } from '../../domain/identity-keys.js';

/**
 * One share of the projection: the polls whose (project, poll) hashes to `index` of `count`. Each
 * partition has its own checkpoint and its own leader, so `count` projector processes share the
 * work and any one may die. Every partition's projector reads the whole log and folds only its
 * polls' events, so each checkpoint follows the log's head.
 */
export interface Partition {
  readonly index: number;
  readonly count: number;
}

/** The whole log as one partition: the default, and what every read model without partitions is. */
export const wholeLog: Partition = { index: 0, count: 1 };

/** The partition a poll's events belong to: FNV-1a of its id, stable across processes and versions. */
export function partitionOf(poll: PollKey, count: number): number {
  if (count === 1) return 0;
  const id = pollIdOf(poll);
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** Every partition of `count`. */
export function partitionsOf(count: number): Partition[] {
  return Array.from({ length: count }, (_, index) => ({ index, count }));
}

/** A filter for one partition's events that hashes each poll once. */
export function belongsTo(partition: Partition): (poll: PollKey) => boolean {
  if (partition.count === 1) return () => true;
  const known = new Map<string, boolean>();
  return (poll) => {
    const id = pollIdOf(poll);
    let mine = known.get(id);
    if (mine === undefined) {
      mine = partitionOf(poll, partition.count) === partition.index;
      if (known.size >= 100_000) known.clear();
      known.set(id, mine);
    }
    return mine;
  };
}

/**
 * The read model stands where its slowest partition stands: the earliest checkpoint, or undefined
 * while any partition has none.
 */
export function earliestCheckpoint<T>(checkpoints: readonly (T | undefined)[], compare: (a: T, b: T) => number): T | undefined {
  let earliest: T | undefined;
  for (const checkpoint of checkpoints) {
    if (checkpoint === undefined) return undefined;
    if (earliest === undefined || compare(checkpoint, earliest) < 0) earliest = checkpoint;
  }
  return earliest;
}
