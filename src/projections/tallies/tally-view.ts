import { averageOf, type Tally } from '../../domain/tally.js';

/** A target's tally as every answer shows it (reads, the stream, the audit's as-of), the same for every kind of poll. */
export interface TargetTally {
  readonly poll: string;
  readonly kind: string;
  readonly target: string;
  readonly count: number;
  readonly sum: number;
  readonly up: number;
  readonly down: number;
  readonly average: number | null;
  readonly histogram: Readonly<Record<string, number>>;
}

/** The tally shape every read answers with: the target's tally at a place in the log. */
export interface TallyView extends TargetTally {
  readonly voterValue?: number;
  readonly position: string | null;
}

export function toTallyView(poll: { readonly name: string; readonly kind: string }, target: string, tally: Tally): TargetTally {
  return {
    poll: poll.name,
    kind: poll.kind,
    target,
    count: tally.count,
    sum: tally.sum,
    up: tally.up,
    down: tally.down,
    average: averageOf(tally),
    histogram: tally.histogram,
  };
}
