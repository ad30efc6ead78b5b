import { type Kysely, sql } from 'kysely';
import { type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { LogPosition } from '../../domain/position.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { Database } from '../../platform/database.js';
import { committedUpTo } from '../../platform/log-order.js';

/**
 * Every tally computed straight from the log in SQL: each ballot's latest event, grouped. The
 * read model must always equal this; tests and `verify` compare against it.
 */
export interface RecomputeScope {
  readonly projectId?: string;
  readonly poll?: string;
  readonly target?: string;
  /** Only events recorded at or before this instant: the tallies as they stood then. */
  readonly at?: Date;
  /** Only events at or before this position in commit order: what a projection at it holds. */
  readonly upTo?: LogPosition;
}

export async function recomputeTallies(db: Kysely<Database>, scope: RecomputeScope | string = {}): Promise<Map<string, { key: TallyKey; tally: Tally }>> {
  const { projectId, poll, target, at, upTo } = typeof scope === 'string' ? { projectId: scope } : scope;
  const { rows } = await sql<{ project_id: string; poll: string; target: string; value: number; ballots: string }>`
    with latest as (
      select distinct on (project_id, poll, target, voter) project_id, poll, target, value
      from vote_events
      where true
      ${projectId === undefined ? sql`` : sql`and project_id = ${projectId}`}
      ${poll === undefined ? sql`` : sql`and poll = ${poll}`}
      ${target === undefined ? sql`` : sql`and target = ${target}`}
      ${at === undefined ? sql`` : sql`and recorded_at <= ${at}`}
      ${upTo === undefined ? sql`` : sql`and ${committedUpTo(upTo)}`}
      order by project_id, poll, target, voter, stream_version desc
    )
    select project_id, poll, target, value, count(*)::text as ballots
    from latest where value <> 0
    group by project_id, poll, target, value
  `.execute(db);
  const tallies = new Map<string, { key: TallyKey; tally: Tally }>();
  for (const row of rows) {
    const key = { projectId: row.project_id, poll: row.poll, target: row.target };
    const id = tallyIdOf(key);
    const before = tallies.get(id)?.tally ?? emptyTally;
    const ballots = Number(row.ballots);
    tallies.set(id, {
      key,
      tally: {
        count: before.count + ballots,
        sum: before.sum + row.value * ballots,
        up: before.up + (row.value > 0 ? ballots : 0),
        down: before.down + (row.value < 0 ? ballots : 0),
        histogram: { ...before.histogram, [row.value]: ballots },
      },
    });
  }
  return tallies;
}
