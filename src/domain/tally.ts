/**
 * The read model of one (poll, target): how many active ballots, their sum, how many are
 * positive or negative, and how many hold each value. Value 0 (no vote) is never counted.
 */
export interface Tally {
  readonly count: number;
  readonly sum: number;
  readonly up: number;
  readonly down: number;
  readonly histogram: Readonly<Record<string, number>>;
}

/** A tally being folded; projections mutate one per batch instead of copying per event. */
export interface TallyAccumulator {
  count: number;
  sum: number;
  up: number;
  down: number;
  histogram: Record<string, number>;
}

export const emptyTally: Tally = { count: 0, sum: 0, up: 0, down: 0, histogram: {} };

/** Moves one ballot from `previous` to `value` (either may be 0). Needs no other state. */
export function moveBallot(tally: TallyAccumulator, previous: number, value: number): void {
  tally.count += active(value) - active(previous);
  tally.sum += value - previous;
  tally.up += positive(value) - positive(previous);
  tally.down += negative(value) - negative(previous);
  if (previous !== 0) adjust(tally.histogram, previous, -1);
  if (value !== 0) adjust(tally.histogram, value, +1);
}

export function applyBallotChange(tally: Tally, previous: number, value: number): Tally {
  const next: TallyAccumulator = { ...tally, histogram: { ...tally.histogram } };
  moveBallot(next, previous, value);
  return next;
}

export function averageOf(tally: Tally): number | null {
  return tally.count === 0 ? null : tally.sum / tally.count;
}

function adjust(histogram: Record<string, number>, value: number, by: number): void {
  const next = (histogram[value] ?? 0) + by;
  if (next === 0) delete histogram[value];
  else histogram[value] = next;
}

const active = (value: number) => (value === 0 ? 0 : 1);
const positive = (value: number) => (value > 0 ? 1 : 0);
const negative = (value: number) => (value < 0 ? 1 : 0);
