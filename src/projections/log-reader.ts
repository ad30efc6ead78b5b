import { type Kysely, sql } from 'kysely';
import { formatPosition, type LogPosition, logStart, parsePosition } from '../domain/position.js';
import type { Database } from '../platform/database.js';

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
 * The next events in commit-safe order. Only transactions older than every transaction still in
 * flight are read: one that took an earlier position but commits later can never be skipped.
 */
export async function readEventsAfter(db: Kysely<Database>, after: LogPosition | undefined, limit: number): Promise<LoggedVote[]> {
  const from = after ?? logStart;
  const { rows } = await sql<{ tx: string; pos: string; project_id: string; poll: string; target: string; voter: string; value: number; previous: number; recorded_ms: number }>`
    select transaction_id::text as tx, global_position::text as pos, project_id, poll, target, voter, value, previous,
           extract(epoch from recorded_at)::float8 * 1000 as recorded_ms
    from vote_events
    where (transaction_id, global_position) > (${from.transactionId.toString()}::xid8, ${from.globalPosition.toString()}::bigint)
      and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    order by transaction_id, global_position
    limit ${limit}
  `.execute(db);
  return rows.map((row) => ({
    position: { transactionId: BigInt(row.tx), globalPosition: BigInt(row.pos) },
    projectId: row.project_id,
    poll: row.poll,
    target: row.target,
    voter: row.voter,
    value: row.value,
    previous: row.previous,
    recordedAtMs: Number(row.recorded_ms),
  }));
}

/** The newest event in commit order, committed or not; the projection's lag is measured against it. */
export async function readLogHead(db: Kysely<Database>): Promise<{ position: LogPosition; recordedAt: Date } | undefined> {
  const { rows } = await sql<{ position: string; recorded_at: Date }>`
    select transaction_id::text || '.' || global_position::text as position, recorded_at
    from vote_events order by transaction_id desc, global_position desc limit 1
  `.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { position: parsePosition(row.position)!, recordedAt: row.recorded_at };
}

export interface ProjectionLag {
  /** The newest event's token, or null on an empty log. */
  readonly head: string | null;
  /** Events after the checkpoint (approximate: positions are not commit order). */
  readonly events: number;
  /** Age of the newest event when anything is left to apply; 0 when caught up. */
  readonly seconds: number;
}

/** How far a read model at `checkpoint` trails the log. */
export async function measureLag(db: Kysely<Database>, checkpoint: string | undefined): Promise<ProjectionLag> {
  const head = await readLogHead(db);
  if (head === undefined) return { head: null, events: 0, seconds: 0 };
  const applied = checkpoint === undefined ? 0n : parsePosition(checkpoint)!.globalPosition;
  const events = Math.max(0, Number(head.position.globalPosition - applied));
  const seconds = events === 0 ? 0 : Math.max(0, (Date.now() - head.recordedAt.getTime()) / 1000);
  return { head: formatPosition(head.position), events, seconds };
}
