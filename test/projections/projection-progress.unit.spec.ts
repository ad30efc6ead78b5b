import { describe, expect, it } from 'vitest';
import { InProcessTallyFeed } from '../../src/projections/realtime/tally-feed.js';
import { ProjectionProgress } from '../../src/projections/tallies/projection-progress.js';

describe('readers waiting for a position', () => {
  const given = (stored: string | undefined) => {
    const feed = new InProcessTallyFeed();
    let reads = 0;
    const readCheckpoint = async () => ((reads += 1), stored);
    // No safety poll within the test: only the feed can wake a reader.
    const progress = new ProjectionProgress(readCheckpoint, (listener) => feed.subscribe(listener), { maxWaiters: 10, pollMs: 600_000 });
    return { feed, progress, reads: () => reads };
  };

  it('wake on the checkpoint a batch announces, even when it announces no changed tally', async () => {
    const { feed, progress, reads } = given('5.1');
    const waiting = progress.waitFor('7.3', 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await feed.publish({ checkpoint: '7.2', updates: [] });
    expect(progress.waiting).toBe(1);
    await feed.publish({ checkpoint: '8.1', updates: [] });
    await expect(waiting).resolves.toBeUndefined();
    expect(progress.waiting).toBe(0);
    expect(reads()).toBe(1);
  });

  it('answer at once a position the read model has passed', async () => {
    const { progress } = given('9.9');
    await expect(progress.waitFor('9.1', 50)).resolves.toBeUndefined();
  });

  it('with partitions, wake once every partition has passed the position, not the first', async () => {
    const { feed, progress } = given('5.1');
    const waiting = progress.waitFor('7.3', 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await feed.publish({ checkpoint: '8.1', updates: [], partition: { index: 1, count: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(progress.waiting).toBe(1);
    await feed.publish({ checkpoint: '7.2', updates: [], partition: { index: 0, count: 2 } });
    expect(progress.waiting).toBe(1);
    await feed.publish({ checkpoint: '9.1', updates: [], partition: { index: 0, count: 2 } });
    await expect(waiting).resolves.toBeUndefined();
  });
});
