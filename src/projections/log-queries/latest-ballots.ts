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

export interface LatestBallotRow {
  readonly project_id: string;
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  /** 0 for a retracted ballot. */
  readonly value: number;
  /** The ballot's events in scope: versions count up from 1 in commit order. */
  readonly stream_version: number;
}

/**
 * Each ballot's latest event in scope, grouped by (project, poll, target): a tally is a function
 * of its ballots' latest values alone. Every order column runs backwards, so PostgreSQL walks the
 * unique (project, poll, target, voter, stream_version) index backwards instead of sorting the log.
 */
export function latestBallots(scope: BallotScope) {
  const { projectId, poll, target, at, upTo } = scope;
  return sql<LatestBallotRow>`
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

/**
 * Streams every ballot's latest event at or before `upTo`, `rowsPerFetch` at a time through a
 * cursor (in its own transaction), each (project, poll, target) in one run of rows. Each chunk is
 * handed to `onRows` before the next is fetched, so memory holds one chunk, never the log.
 */
export async function streamLatestBallots(
  db: Kysely<Database>,
  upTo: LogPosition,
  rowsPerFetch: number,
  onRows: (rows: readonly LatestBallotRow[]) => Promise<void>,
): Promise<void> {
  const fetchSize = sql.lit(Math.max(1, Math.floor(rowsPerFetch)));
  await db.transaction().execute(async (trx) => {
    await sql`declare latest_ballots no scroll cursor for ${latestBallots({ upTo })}`.execute(trx);
    let fetching = sql<LatestBallotRow>`fetch forward ${fetchSize} from latest_ballots`.execute(trx);
    for (let { rows } = await fetching; rows.length > 0; { rows } = await fetching) {
      // The next chunk travels while this one is folded and written.
      fetching = sql<LatestBallotRow>`fetch forward ${fetchSize} from latest_ballots`.execute(trx);
      fetching.catch(() => {}); // a failed chunk abandons this fetch; its error is not news
      await onRows(rows);
    }
  });
}
