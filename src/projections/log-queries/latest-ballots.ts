import { type Kysely, sql } from 'kysely';
import { type LogPosition } from '../../domain/position.js';
import type { Database } from '../../platform/database.js';
import { committedUpTo } from '../../platform/log-order.js';

/** Which events count when each ballot's latest one is taken. */
export interface BallotScope {
  readonly projectId?: string;
  readonly poll?: string;
  readonly target?: string;
  /** Only events recorded at or before this instant: the ballots as they stood then. */
  readonly at?: Date;
  /** Only events at or before this position in commit order: what a projection at it holds. */
  readonly upTo?: LogPosition;
}

/**
 * Each ballot's latest event in scope, grouped by (project, poll, target): a tally is a function
 * of its ballots' latest values alone. Every order column runs backwards, so PostgreSQL walks the
 * unique (project, poll, target, voter, stream_version) index backwards instead of sorting the log.
 */
export function latestBallots(scope: BallotScope) {
  const { projectId, poll, target, at, upTo } = scope;
  return sql`
    select distinct on (project_id, poll, target, voter) project_id, poll, target, voter, value, stream_version
    from vote_events
    where true
    ${projectId === undefined ? sql`` : sql`and project_id = ${projectId}`}
    ${poll === undefined ? sql`` : sql`and poll = ${poll}`}
    ${target === undefined ? sql`` : sql`and target = ${target}`}
    ${at === undefined ? sql`` : sql`and recorded_at <= ${at}`}
    ${upTo === undefined ? sql`` : sql`and ${committedUpTo(upTo)}`}
    order by project_id desc, poll desc, target desc, voter desc, stream_version desc
  `;
}

/** One target's ballots, each at its latest event: [voter, value], value 0 for a retracted ballot. */
export interface TargetBallots {
  readonly project_id: string;
  readonly poll: string;
  readonly target: string;
  readonly ballots: readonly (readonly [voter: string, value: number])[];
  /** The events these ballots stand for: a ballot's latest version counts its events. */
  readonly events: number;
}

/**
 * Streams every ballot's latest event at or before `upTo`, one row per target with its ballots as
 * one JSON array (far fewer rows to parse than one per ballot), `targetsPerFetch` targets at a
 * time through a cursor in its own transaction, poll after poll. Each chunk is handed to `onRows`
 * before the next is fetched, so memory holds one chunk, never the log.
 */
export async function streamLatestBallots(
  db: Kysely<Database>,
  upTo: LogPosition,
  targetsPerFetch: number,
  onRows: (rows: readonly TargetBallots[]) => Promise<void>,
): Promise<void> {
  const fetchSize = sql.lit(Math.max(1, Math.floor(targetsPerFetch)));
  await db.transaction().execute(async (trx) => {
    await sql`
      declare latest_ballots no scroll cursor for
      select project_id, poll, target, json_agg(json_build_array(voter, value)) as ballots, sum(stream_version)::float8 as events
      from (${latestBallots({ upTo })}) as latest
      group by project_id, poll, target
      order by project_id desc, poll desc, target desc
    `.execute(trx);
    const fetchChunk = () => sql<TargetBallots>`fetch forward ${fetchSize} from latest_ballots`.execute(trx);
    let fetching = fetchChunk();
    for (let { rows } = await fetching; rows.length > 0; { rows } = await fetching) {
      // The next chunk travels while this one is folded and written.
      fetching = fetchChunk();
      fetching.catch(() => {}); // a failed chunk abandons this fetch; its error is not news
      await onRows(rows);
    }
  });
}
