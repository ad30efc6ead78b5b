import { describe, expect, it } from 'vitest';
import { applyBallotChange, averageOf, emptyTally, type Tally } from '../../src/domain/tally.js';

const given = (...changes: [previous: number, value: number][]): Tally =>
  changes.reduce((tally, [previous, value]) => applyBallotChange(tally, previous, value), emptyTally);

describe('tally', () => {
  describe('updown poll', () => {
    it('counts a first up vote', () => {
      expect(given([0, 1])).toEqual({ count: 1, sum: 1, up: 1, down: 0, histogram: { '1': 1 } });
    });

    describe('when already voted up', () => {
      it('moves the score by -2 when switched to down', () => {
        const before = given([0, 1], [0, 1]);
        const after = applyBallotChange(before, 1, -1);
        expect(after.sum - before.sum).toBe(-2);
        expect(after).toEqual({ count: 2, sum: 0, up: 1, down: 1, histogram: { '1': 1, '-1': 1 } });
      });

      it('drops the ballot from every figure when retracted', () => {
        expect(applyBallotChange(given([0, 1]), 1, 0)).toEqual(emptyTally);
      });
    });
  });

  describe('rating poll', () => {
    it('keeps a histogram and an average', () => {
      const tally = given([0, 5], [0, 3], [0, 4], [3, 5]);
      expect(tally).toEqual({ count: 3, sum: 14, up: 3, down: 0, histogram: { '4': 1, '5': 2 } });
      expect(averageOf(tally)).toBeCloseTo(14 / 3);
    });
  });

  it('has no average when nobody voted', () => {
    expect(averageOf(emptyTally)).toBeNull();
  });
});
