import { describe, expect, it } from 'vitest';
import { definePollRules } from '../../src/domain/poll.js';
import { bayesianAverage, rankOrdersFor, rankScores, wilsonLowerBound } from '../../src/domain/ranking.js';

describe('Wilson lower bound at 95%', () => {
  // Hand-computed: p = up/n, z = 1.96; (p + z²/2n - z·sqrt((p(1-p) + z²/4n)/n)) / (1 + z²/n)
  it.each([
    [1, 0, 0.2065],
    [9, 1, 0.5958],
    [50, 50, 0.4038],
    [0, 10, 0],
    [600, 400, 0.5693],
  ])('is %i up, %i down -> %f', (up, down, expected) => {
    expect(wilsonLowerBound(up, down)).toBeCloseTo(expected, 4);
  });

  it('is 0 with no votes and ranks 9:1 above 1:0', () => {
    expect(wilsonLowerBound(0, 0)).toBe(0);
    expect(wilsonLowerBound(9, 1)).toBeGreaterThan(wilsonLowerBound(1, 0));
  });
});

describe('Bayesian average', () => {
  it('pulls few ratings towards the prior and lets many speak for themselves', () => {
    // prior 3 worth 5 ratings: one 5-star rating -> (15 + 5) / 6
    expect(bayesianAverage(5, 1, 3, 5)).toBeCloseTo(20 / 6, 10);
    // 100 ratings averaging 4.5 -> (15 + 450) / 105
    expect(bayesianAverage(450, 100, 3, 5)).toBeCloseTo(465 / 105, 10);
    expect(bayesianAverage(0, 0, 3, 5)).toBe(3);
  });
});

describe('rank scores', () => {
  it('offers wilson for updown polls and bayes for ratings', () => {
    expect(rankOrdersFor(definePollRules('like'))).toEqual(['count', 'sum', 'average']);
    expect(rankOrdersFor(definePollRules('updown'))).toEqual(['count', 'sum', 'average', 'wilson']);
    expect(rankOrdersFor(definePollRules('rating'))).toEqual(['count', 'sum', 'average', 'bayes']);
  });

  it('scores a rating tally with the scale midpoint as prior', () => {
    const tally = { count: 2, sum: 9, up: 2, down: 0, histogram: { '4': 1, '5': 1 } };
    expect(rankScores(definePollRules('rating'), tally)).toEqual({ count: 2, sum: 9, average: 4.5, bayes: (5 * 3 + 9) / 7 });
  });
});
