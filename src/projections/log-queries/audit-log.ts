import { type Kysely, sql } from 'kysely';
import { formatPosition, type LogPosition, logStart } from '../../domain/position.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { Database } from '../../platform/database.js';
import { committedAfter, committedBefore, positionColumns, positionFromColumns, positionTokenSql } from '../../platform/log-order.js';
import { recomputeTallies } from './recompute-tallies.js';

export interface AuditFilter {
  readonly projectId: string;
  readonly poll?: string | undefined;
  readonly target?: string | undefined;
  readonly voter?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}

/** Oldest first is commit order, which a tail follows; newest first is what a person reads. */
export type AuditOrder = 'oldest' | 'newest';

export interface AuditEvent {
  readonly eventId: string;
  readonly position: string;
  readonly type: string;
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  readonly value: number;
  readonly previous: number;
  readonly version: number;
  readonly recordedAt: string;
  readonly metadata: unknown;
}

/**
 * Events in commit-safe order after `after`, below every transaction still in flight (and below
 * `horizon`, a transaction id, when given): walking the pages while votes keep arriving never
 * repeats an event and never misses one committed before the walk reached it. Newest first, `after`
 * is the last event of the previous page and the walk goes back from there: every event older than
 * it had committed when that page was read, so later pages neither repeat nor miss one.
 */
export async function readAuditEvents(
  db: Kysely<Database>,
  filter: AuditFilter,
  after: LogPosition | undefined,
  limit: number,
  options: { horizon?: bigint; order?: AuditOrder } = {},
): Promise<AuditEvent[]> {
  const newest = options.order === 'newest';
  const where = newest ? matchingBefore(filter, after) : matching(filter, after, options.horizon);
  const { rows } = await sql<{
    event_id: string; tx: string; pos: string; type: string; poll: string; target: string; voter: string;
    value: number; previous: number; stream_version: number; recorded_at: Date; metadata: unknown;
  }>`
    select event_id, ${positionColumns}, type, poll, target, voter,
           value, previous, stream_version, recorded_at, metadata
    from vote_events
    where ${where}
    order by ${newest ? sql`transaction_id desc, global_position desc` : sql`transaction_id, global_position`}
    limit ${limit}
  `.execute(db);
  return rows.map((row) => ({
    eventId: row.event_id,
    position: formatPosition(positionFromColumns(row)),
    type: row.type,
    poll: row.poll,
    target: row.target,
    voter: row.voter,
    value: row.value,
    previous: row.previous,
    version: row.stream_version,
    recordedAt: row.recorded_at.toISOString(),
    metadata: row.metadata,
  }));
}

/**
 * The same events as readAuditEvents, already rendered as JSON lines by PostgreSQL: an export
 * of a million events spends its time moving bytes, not parsing and re-serialising rows.
 */
async function readAuditLines(db: Kysely<Database>, filter: AuditFilter, after: LogPosition | undefined, limit: number, horizon: Horizon) {
  const { rows } = await sql<{ line: string; tx: string; pos: string }>`
    select json_build_object(
             'eventId', event_id, 'position', ${positionTokenSql()}, 'type', type,
             'poll', poll, 'target', target, 'voter', voter, 'value', value, 'previous', previous, 'version', stream_version,
             'recordedAt', to_char(recorded_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'metadata', metadata
           )::text as line,
           ${positionColumns}
    from vote_events
    where ${matching(filter, after, horizon)}
    order by transaction_id, global_position
    limit ${limit}
  `.execute(db);
  return { lines: rows.map((row) => row.line), last: rows.length === 0 ? undefined : positionFromColumns(rows.at(-1)!) };
}

/**
 * Where reading stops: below every transaction still in flight (undefined), and below a transaction
 * id given too; or, inside one repeatable-read transaction, at every event its snapshot holds.
 */
type Horizon = bigint | 'snapshot' | undefined;

function matching(filter: AuditFilter, after: LogPosition | undefined, horizon: Horizon) {
  const from = after ?? logStart;
  return sql`project_id = ${filter.projectId}
      and ${committedAfter(from)}
      ${horizon === 'snapshot' ? sql`` : sql`and transaction_id < pg_snapshot_xmin(pg_current_snapshot())`}
      ${typeof horizon === 'bigint' ? sql`and transaction_id < ${horizon.toString()}::xid8` : sql``}
      and ${fieldsMatch(filter)}`;
}

function matchingBefore(filter: AuditFilter, before: LogPosition | undefined) {
  return sql`project_id = ${filter.projectId}
      and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ${before === undefined ? sql`` : sql`and ${committedBefore(before)}`}
      and ${fieldsMatch(filter)}`;
}

function fieldsMatch(filter: AuditFilter) {
  return sql`true
      ${filter.poll === undefined ? sql`` : sql`and poll = ${filter.poll}`}
      ${filter.target === undefined ? sql`` : sql`and target = ${filter.target}`}
      ${filter.voter === undefined ? sql`` : sql`and voter = ${filter.voter}`}
      ${filter.from === undefined ? sql`` : sql`and recorded_at >= ${filter.from}`}
      ${filter.to === undefined ? sql`` : sql`and recorded_at < ${filter.to}`}`;
}

/** The transaction horizon now: an export stops there, so it ends even while votes keep coming. */
export async function currentHorizon(db: Kysely<Database>): Promise<bigint> {
  const { rows } = await sql<{ xmin: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(db);
  return BigInt(rows[0]!.xmin);
}

/**
 * Pages through every match in constant memory, handing each page of JSON lines to `write`
 * before reading on; `write` answering false (the client went away) ends the export. It stops at
 * the commit horizon when it began, or, with `wholeSnapshot` inside a repeatable-read transaction
 * (a backup), at every event committed when that transaction began.
 */
export async function exportAuditEvents(
  db: Kysely<Database>,
  filter: AuditFilter,
  after: LogPosition | undefined,
  write: (lines: readonly string[]) => Promise<boolean>,
  options: { pageSize?: number; wholeSnapshot?: boolean } = {},
): Promise<void> {
  const pageSize = options.pageSize ?? 2000;
  const horizon = options.wholeSnapshot === true ? 'snapshot' : await currentHorizon(db);
  let cursor = after;
  for (;;) {
    const page = await readAuditLines(db, filter, cursor, pageSize, horizon);
    if (page.last === undefined) return;
    if (!(await write(page.lines))) return;
    cursor = page.last;
  }
}

/** The tally of one target as it stood at `at`, computed from the log alone. */
export async function tallyAsOf(db: Kysely<Database>, projectId: string, poll: string, target: string, at: Date): Promise<Tally> {
  const tallies = await recomputeTallies(db, { projectId, poll, target, at });
  return tallies.values().next().value?.tally ?? emptyTally;
}
