import type { TallyStore } from '../../src/projections/tallies/tally-store.js';

/** The store as it is, but for the few methods a test overrides to inject a fault. */
export function overriding(inner: TallyStore, overrides: Partial<TallyStore>): TallyStore {
  return {
    followLiveGeneration: () => inner.followLiveGeneration(),
    claimWriter: (epoch, partition) => inner.claimWriter(epoch, partition),
    loadTallies: (keys) => inner.loadTallies(keys),
    applyChanges: (changes, move) => inner.applyChanges(changes, move),
    readCheckpoint: (partition) => inner.readCheckpoint(partition),
    get partitions() {
      return inner.partitions;
    },
    readTallies: (poll, targets, voter) => inner.readTallies(poll, targets, voter),
    readTop: (poll, order, limit) => inner.readTop(poll, order, limit),
    readTalliesWithCheckpoint: (poll, targets, voter) => inner.readTalliesWithCheckpoint(poll, targets, voter),
    readTopWithCheckpoint: (poll, order, limit) => inner.readTopWithCheckpoint(poll, order, limit),
    ...overrides,
  };
}
