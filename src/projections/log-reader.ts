import { type Kysely, sql } from 'kysely';
import { type LogPosition, logStart, parsePosition } from '../domain/position.js';
import type { Database } from '../platform/database.js';
import { type OldestTransaction, readOldestTransaction, type UnnamedTransaction } from './oldest-transaction.js';

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

/** The newest committed event in commit order; the projection's head. */
export async function readLogHead(db: Kysely<Database>): Promise<{ position: LogPosition; recordedAt: Date } | undefined> {
  const { rows } = await sql<{ position: string; recorded_at: Date }>`
    select transaction_id::text || '.' || global_position::text as position, recorded_at
    from vote_events order by transaction_id desc, global_position desc limit 1
  `.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { position: parsePosition(row.position)!, recordedAt: row.recorded_at };
}

export interface ProjectionLag {
  /** The newest committed event's token, or null on an empty log. */
  readonly head: string | null;
  /** Events after the checkpoint (approximate: positions are not commit order). */
  readonly events: number;
  /** Age of the oldest committed event not applied yet (the first after the checkpoint); 0 when caught up. */
  readonly seconds: number;
  /**
   * The transaction that keeps committed events from the projector, when one does: events after
   * the checkpoint are committed, but a transaction still running began before them.
   */
  readonly heldBackBy: OldestTransaction | UnnamedTransaction | null;
  /** The oldest transaction holding an id anywhere in the cluster, stalling projection or not. */
  readonly oldestTransaction: OldestTransaction | undefined;
}

/** How far a read model at `checkpoint` trails the committed log, and what holds it back. */
export async function measureLag(db: Kysely<Database>, checkpoint: string | undefined): Promise<ProjectionLag> {
  const applied = (checkpoint === undefined ? undefined : parsePosition(checkpoint)) ?? logStart;
  const [{ rows }, oldestTransaction] = await Promise.all([
    sql<{ head: string | null; head_position: string | null; unapplied_ms: number | null; held_back: boolean | null; horizon: string }>`
      with head as (
        select transaction_id, global_position from vote_events order by transaction_id desc, global_position desc limit 1
      ), first_unapplied as (
        select transaction_id, recorded_at from vote_events
        where (transaction_id, global_position) > (${applied.transactionId.toString()}::xid8, ${applied.globalPosition.toString()}::bigint)
        order by transaction_id, global_position limit 1
      )
      select (select transaction_id::text || '.' || global_position::text from head) as head,
             (select global_position::text from head) as head_position,
             (select extract(epoch from recorded_at)::float8 * 1000 from first_unapplied) as unapplied_ms,
             (select transaction_id >= pg_snapshot_xmin(pg_current_snapshot()) from first_unapplied) as held_back,
             pg_snapshot_xmin(pg_current_snapshot())::text as horizon
    `.execute(db),
    readOldestTransaction(db),
  ]);
  const row = rows[0]!;
  const events = row.head_position === null ? 0 : Math.max(0, Number(BigInt(row.head_position) - applied.globalPosition));
  const seconds = row.unapplied_ms === null ? 0 : Math.max(0, (Date.now() - row.unapplied_ms) / 1000);
  const heldBackBy = row.held_back === true ? (oldestTransaction ?? { kind: 'unknown' as const, transactionId: row.horizon }) : null;
  return { head: row.head, events, seconds, heldBackBy, oldestTransaction };
}
