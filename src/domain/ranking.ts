import type { PollRules } from './poll.js';
import { averageOf, type Tally } from './tally.js';

export const rankOrders = ['count', 'sum', 'average', 'wilson', 'bayes'] as const;
export type RankOrder = (typeof rankOrders)[number];

/** z for a two-sided 95% confidence interval. */
const z95 = 1.959963984540054;

/**
 * Lower bound of the Wilson score interval for the share of positive ballots: ranks "9 up,
 * 1 down" above "1 up, 0 down", which a plain ratio would not. 0 when nobody voted.
 */
export function wilsonLowerBound(up: number, down: number, z = z95): number {
  const n = up + down;
  if (n === 0) return 0;
  const p = up / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * n)) / n);
  return (centre - margin) / (1 + z2 / n);
}

/**
 * Bayesian average of a rating: as if every target also had `priorWeight` ratings at
 * `priorMean`. Few ratings stay near the prior; many ratings approach their own mean.
 */
export function bayesianAverage(sum: number, count: number, priorMean: number, priorWeight: number): number {
  return (priorWeight * priorMean + sum) / (priorWeight + count);
}

/** The prior a rating poll ranks by: the middle of its scale, worth this many ratings. */
export const bayesPriorWeight = 5;
export const bayesPriorMean = (rules: PollRules) => (rules.min + rules.max) / 2;

/** Which top-list orders make sense for a kind of poll. */
export function rankOrdersFor(rules: PollRules): RankOrder[] {
  switch (rules.kind) {
    case 'like':
      return ['count', 'sum', 'average'];
    case 'updown':
      return ['count', 'sum', 'average', 'wilson'];
    case 'rating':
      return ['count', 'sum', 'average', 'bayes'];
  }
}

/** The score of a tally in each order its poll supports; higher ranks first. */
export function rankScores(rules: PollRules, tally: Tally): Partial<Record<RankOrder, number>> {
  const scores: Partial<Record<RankOrder, number>> = {};
  for (const order of rankOrdersFor(rules)) scores[order] = scoreOf(order, rules, tally);
  return scores;
}

function scoreOf(order: RankOrder, rules: PollRules, tally: Tally): number {
  switch (order) {
    case 'count':
      return tally.count;
    case 'sum':
      return tally.sum;
    case 'average':
      return averageOf(tally) ?? 0;
    case 'wilson':
      return wilsonLowerBound(tally.up, tally.down);
    case 'bayes':
      return bayesianAverage(tally.sum, tally.count, bayesPriorMean(rules), bayesPriorWeight);
  }
}
