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

export const emptyTally: Tally = { count: 0, sum: 0, up: 0, down: 0, histogram: {} };

/** Moves one ballot from `previous` to `value` (either may be 0). Needs no other state. */
export function applyBallotChange(tally: Tally, previous: number, value: number): Tally {
  const histogram: Record<string, number> = { ...tally.histogram };
  if (previous !== 0) adjust(histogram, previous, -1);
  if (value !== 0) adjust(histogram, value, +1);
  return {
    count: tally.count + active(value) - active(previous),
    sum: tally.sum + value - previous,
    up: tally.up + positive(value) - positive(previous),
    down: tally.down + negative(value) - negative(previous),
    histogram,
  };
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
