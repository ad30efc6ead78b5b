import { describe, expect, it } from 'vitest';
import { StreamCapacity } from '../../src/http/stream-capacity.js';

const limits = { maxStreams: 4, maxStreamsPerClient: 2, maxStreamsPerKey: 3, maxTargets: 10 };
const codeOf = (admit: () => unknown) => {
  try {
    admit();
    return 'admitted';
  } catch (error) {
    return (error as { code: string }).code;
  }
};

describe('stream capacity', () => {
  it('gives one client address its share, then too_many_streams (429)', () => {
    const capacity = new StreamCapacity(limits);
    capacity.admit('a', 'k1', 1);
    capacity.admit('a', 'k2', 1);
    expect(codeOf(() => capacity.admit('a', 'k3', 1))).toBe('too_many_streams');
    expect(codeOf(() => capacity.admit('b', 'k3', 1))).toBe('admitted');
  });

  it('gives one key its share across addresses, then too_many_streams (429)', () => {
    const capacity = new StreamCapacity(limits);
    for (const client of ['a', 'b', 'c']) capacity.admit(client, 'k', 1);
    expect(codeOf(() => capacity.admit('d', 'k', 1))).toBe('too_many_streams');
  });

  it('refuses with over_capacity (503) when the process holds its most streams or targets', () => {
    const full = new StreamCapacity(limits);
    for (const [client, key] of [['a', 'k1'], ['b', 'k2'], ['c', 'k3'], ['d', 'k4']]) full.admit(client!, key!, 1);
    expect(codeOf(() => full.admit('e', 'k5', 1))).toBe('over_capacity');
    const targets = new StreamCapacity(limits);
    targets.admit('a', 'k1', 8);
    expect(codeOf(() => targets.admit('b', 'k2', 3))).toBe('over_capacity');
    expect(codeOf(() => targets.admit('b', 'k2', 2))).toBe('admitted');
  });

  it('gives the room back once per stream, however often it is released', () => {
    const capacity = new StreamCapacity(limits);
    const release = capacity.admit('a', 'k', 10);
    release();
    release();
    expect(capacity.open).toEqual({ streams: 0, targets: 0 });
    capacity.admit('a', 'k', 10);
    expect(capacity.open).toEqual({ streams: 1, targets: 10 });
  });
});
