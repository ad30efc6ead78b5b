import { type Kysely, sql } from 'kysely';
import type { Database } from '../../platform/database.js';

export const analyticsRanges = { '1d': 1, '7d': 7, '30d': 30, '1y': 365 } as const;
export type AnalyticsRange = keyof typeof analyticsRanges;
export type AnalyticsBucket = 'hour' | 'day';

export interface AnalyticsPoint {
  readonly start: string;
  readonly cast: number;
  readonly changed: number;
  readonly retracted: number;
  /** The change of the poll's sum over the bucket: the net movement of the score. */
  readonly net: number;
}

/**
 * Votes cast (a first value), changed (from one value to another) and retracted per bucket,
 * computed from the log. Empty buckets are included, so a chart has no gaps.
 */
export async function pollActivity(
  db: Kysely<Database>,
  scope: { projectId: string; poll: string; target?: string | undefined },
  range: AnalyticsRange,
  bucket: AnalyticsBucket,
  now = new Date(),
): Promise<AnalyticsPoint[]> {
  const since = new Date(now.getTime() - analyticsRanges[range] * 86_400_000);
  const { rows } = await sql<{ start: Date; cast: string; changed: string; retracted: string; net: string }>`
    with buckets as (
      select generate_series(date_trunc(${bucket}, ${since}::timestamptz, 'UTC'), ${now}::timestamptz, ${sql.lit(`1 ${bucket}`)}::interval) as start
    ),
    activity as (
      select date_trunc(${bucket}, recorded_at, 'UTC') as start,
             count(*) filter (where type = 'VoteCast' and previous = 0) as cast,
             count(*) filter (where type = 'VoteCast' and previous <> 0) as changed,
             count(*) filter (where type = 'VoteRetracted') as retracted,
             coalesce(sum(value - previous), 0) as net
      from vote_events
      where project_id = ${scope.projectId} and poll = ${scope.poll}
        and recorded_at >= ${since} and recorded_at <= ${now}
        ${scope.target === undefined ? sql`` : sql`and target = ${scope.target}`}
      group by 1
    )
    select b.start, coalesce(a.cast, 0)::text as cast, coalesce(a.changed, 0)::text as changed,
           coalesce(a.retracted, 0)::text as retracted, coalesce(a.net, 0)::text as net
    from buckets b left join activity a using (start)
    order by b.start
  `.execute(db);
  return rows.map((row) => ({
    start: new Date(row.start).toISOString(),
    cast: Number(row.cast),
    changed: Number(row.changed),
    retracted: Number(row.retracted),
    net: Number(row.net),
  }));
}
