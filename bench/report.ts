/** One line of the benchmark table: our figure, the same-run baseline, and the target. */
export interface BenchRow {
  readonly scenario: string;
  readonly ours: string;
  readonly baseline: string;
  /** ours / baseline where both are rates; null where the scenario has no baseline. */
  readonly ratio: number | null;
  readonly target: string;
  /** Whether the target was met; null where it is not decidable from this run. */
  readonly met: boolean | null;
  /** Peak resident set size of each process the scenario started, in MB. */
  readonly peakRssMb: Readonly<Record<string, number>>;
  /** The raw figures, for bench/results.json. */
  readonly figures: Readonly<Record<string, number>>;
}

export function renderTable(rows: readonly BenchRow[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  const headers = ['scenario', 'ours', 'same-run baseline', 'ratio', 'target', 'met', 'peak RSS'];
  return [
    line(headers),
    line(headers.map(() => '---')),
    ...rows.map((row) =>
      line([
        row.scenario,
        row.ours,
        row.baseline,
        row.ratio === null ? '—' : `${row.ratio.toFixed(2)}x`,
        row.target,
        row.met === null ? '—' : row.met ? 'yes' : '**no**',
        Object.entries(row.peakRssMb).map(([process, mb]) => `${process} ${Math.round(mb)} MB`).join(', ') || '—',
      ]),
    ),
  ].join('\n');
}

export const perSecond = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;
export const milliseconds = (value: number) => `${value.toFixed(1)} ms`;
