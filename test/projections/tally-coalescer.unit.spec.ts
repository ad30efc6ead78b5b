import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TallyCoalescer } from '../../src/projections/realtime/tally-coalescer.js';
import type { TallyUpdate } from '../../src/projections/realtime/tally-feed.js';

const update = (target: string, count: number): TallyUpdate => ({
  projectId: 'p', poll: 'likes', target, tally: { count, sum: count, up: count, down: 0, histogram: { 1: count } }, position: `1.${count}`,
});

describe('coalescing tally updates for a stream', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('given a burst on one target, when the window passes, then only its last tally is sent', () => {
    const sent: TallyUpdate[] = [];
    const coalescer = new TallyCoalescer(250, (u) => sent.push(u));

    coalescer.offer(update('a', 1));
    coalescer.offer(update('a', 2));
    coalescer.offer(update('a', 3));
    vi.advanceTimersByTime(0);

    expect(sent.map((u) => u.tally.count)).toEqual([3]);
  });

  it('given a tally just sent, when the next arrives, then it waits out the window; other targets do not', () => {
    const sent: TallyUpdate[] = [];
    const coalescer = new TallyCoalescer(250, (u) => sent.push(u));
    coalescer.offer(update('a', 1));
    vi.advanceTimersByTime(0);

    coalescer.offer(update('a', 2));
    coalescer.offer(update('b', 1));
    vi.advanceTimersByTime(0);
    expect(sent.map((u) => `${u.target}${u.tally.count}`)).toEqual(['a1', 'b1']);
    vi.advanceTimersByTime(250);

    expect(sent.map((u) => `${u.target}${u.tally.count}`)).toEqual(['a1', 'b1', 'a2']);
  });

  it('given pending updates, when stopped, then nothing more is sent', () => {
    const sent: TallyUpdate[] = [];
    const coalescer = new TallyCoalescer(250, (u) => sent.push(u));
    coalescer.offer(update('a', 1));

    coalescer.stop();
    vi.advanceTimersByTime(1000);

    expect(sent).toEqual([]);
  });
});
