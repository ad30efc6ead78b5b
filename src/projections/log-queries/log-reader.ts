import { type Kysely, type RawBuilder, sql } from 'kysely';
import { formatPosition, type LogPosition, logStart, parsePosition } from '../../domain/position.js';
import type { Database } from '../../platform/database.js';
import { committedAfter, positionColumns, positionFromColumns, positionTokenSql } from '../../platform/log-order.js';
import { pgPoolOf } from '../../platform/two-statement-transaction.js';

export interface LoggedVote {
  readonly position: LogPosition;
  readonly projectId: string;
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  readonly value: number;
  readonly previous: number;
  /** Milliseconds since the epoch; a number is far cheaper to read back than a Date. */
  readonly recordedAtMs: number;
}

/**
 * A row as read: the position stays its token until asked for. The projector reads a million
 * events and needs the position of a few (a batch's last, a poll's first): two BigInts and an
 * object per row were a good share of its time and garbage.
 */
class LoggedVoteRow implements LoggedVote {
  constructor(
    private readonly positionToken: string,
    readonly projectId: string,
    readonly poll: string,
    readonly target: string,
    readonly voter: string,
    readonly value: number,
    readonly previous: number,
    readonly recordedAtMs: number,
  ) {}

  get position(): LogPosition {
    return parsePosition(this.positionToken)!;
  }
}

type LogRow = [position: string, projectId: string, poll: string, target: string, voter: string, value: number, previous: number, recordedMs: number];

/** Transactions older than every transaction still in flight: none of them can commit later. */
const belowEveryRunningTransaction = sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;

/**
 * The next events in commit-safe order. Only transactions older than every transaction still in
 * flight are read: one that took an earlier position but commits later can never be skipped.
 */
export async function readEventsAfter(db: Kysely<Database>, after: LogPosition | undefined, limit: number): Promise<LoggedVote[]> {
  const from = after ?? logStart;
  const query = sql<Record<string, unknown>>`
    select ${positionTokenSql()} as position_token, project_id, poll, target, voter, value, previous,
           extract(epoch from recorded_at)::float8 * 1000 as recorded_ms
    from vote_events
    where ${committedAfter(from)}
      and ${belowEveryRunningTransaction}
    order by transaction_id, global_position
    limit ${limit}
  `;
  const rows = await readRowsAsArrays(db, query);
  if (rows.length === 0 && after !== undefined) await assertInThisLog(db, after);
  return rows.map((row) => new LoggedVoteRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], Number(row[7])));
}

/** Rows as arrays of their columns in order: on PostgreSQL pg builds no object with named keys per row. */
async function readRowsAsArrays(db: Kysely<Database>, query: RawBuilder<Record<string, unknown>>): Promise<LogRow[]> {
  const pool = pgPoolOf(db);
  if (pool === undefined) return (await query.execute(db)).rows.map((row) => Object.values(row) as LogRow);
  const { sql: text, parameters } = query.compile(db);
  return (await pool.query<LogRow>({ text, values: parameters as unknown[], rowMode: 'array' })).rows;
}

/** The newest committed event in commit order; the projection's head. */
export async function readLogHead(db: Kysely<Database>): Promise<{ position: LogPosition; recordedAt: Date } | undefined> {
  const { rows } = await sql<{ tx: string; pos: string; recorded_at: Date }>`
    select ${positionColumns}, recorded_at
    from vote_events order by transaction_id desc, global_position desc limit 1
  `.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { position: positionFromColumns(row), recordedAt: row.recorded_at };
}

/**
 * The last event in commit-safe order: every event at or before it is committed for good, and no
 * transaction can still commit one before it. A rebuild loads the log up to here in bulk.
 */
export async function readCommitSafeHead(db: Kysely<Database>): Promise<LogPosition | undefined> {
  const { rows } = await sql<{ tx: string; pos: string }>`
    select ${positionColumns} from vote_events
    where ${belowEveryRunningTransaction}
    order by transaction_id desc, global_position desc limit 1
  `.execute(db);
  return rows[0] === undefined ? undefined : positionFromColumns(rows[0]);
}

/**
 * A read model's checkpoint must name a transaction this database has reached. One that lies
 * beyond it was built from another copy of the log (say, Redis kept across a restore): following
 * it would skip every event until the counter passed it, so the projector stops and says so.
 */
export class CheckpointFromAnotherLogError extends Error {
  override readonly name = 'CheckpointFromAnotherLogError';
}

/** Whether a position lies beyond every transaction this database has started. */
export async function isBeyondThisLog(db: Kysely<Database>, position: LogPosition): Promise<boolean> {
  const { rows } = await sql<{ next: string }>`select pg_snapshot_xmax(pg_current_snapshot())::text as next`.execute(db);
  return position.transactionId >= BigInt(rows[0]!.next);
}

async function assertInThisLog(db: Kysely<Database>, checkpoint: LogPosition): Promise<void> {
  if (!(await isBeyondThisLog(db, checkpoint))) return;
  throw new CheckpointFromAnotherLogError(
    `The read model's checkpoint ${formatPosition(checkpoint)} lies beyond every transaction of this database: ` +
      'it was built from another copy of the log (a restore?). Rebuild it from this log: npm run replay.',
  );
}
