import { type Kysely, sql } from 'kysely';
import { formatPosition, logStart, parsePosition } from '../../domain/position.js';
import type { Database } from '../../platform/database.js';
import { committedAfter } from '../../platform/log-order.js';
import { type OldestTransaction, readOldestTransaction, type UnnamedTransaction } from './oldest-transaction.js';

/** Restored events whose transaction ids this cluster has not reached: `npm run migrate` re-bases them. */
export interface RestoredTransaction {
  readonly kind: 'restored';
  readonly transactionId: string;
}

export interface ProjectionLag {
  /** The newest committed event's token, or null on an empty log. */
  readonly head: string | null;
  /** Events after the checkpoint (approximate: positions are not commit order). */
  readonly events: number;
  /** Age of the oldest committed event not applied yet (the first after the checkpoint); 0 when caught up. */
  readonly seconds: number;
  /**
   * What keeps committed events from the projector, when something does: a transaction still
   * running that began before them, or events restored from a cluster whose counter was ahead.
   */
  readonly heldBackBy: OldestTransaction | UnnamedTransaction | RestoredTransaction | null;
  /** The oldest transaction holding an id anywhere in the cluster, stalling projection or not. */
  readonly oldestTransaction: OldestTransaction | undefined;
}

interface LagRow {
  head_tx: string | null;
  head_position: string | null;
  unapplied_tx: string | null;
  unapplied_ms: number | null;
  unapplied_visible: 'visible' | 'held' | 'restored' | null;
  horizon: string;
  checkpoint_beyond: boolean;
}

/**
 * How far a read model at `checkpoint` trails the committed log, and what holds it back. A
 * checkpoint from another copy of the log (beyond this database's transactions) counts as none.
 */
export async function measureLag(db: Kysely<Database>, checkpoint: string | undefined): Promise<ProjectionLag> {
  const applied = (checkpoint === undefined ? undefined : parsePosition(checkpoint)) ?? logStart;
  const [{ rows }, oldestTransaction] = await Promise.all([
    sql<LagRow>`
      with head as (
        select transaction_id, global_position from vote_events order by transaction_id desc, global_position desc limit 1
      ), first_unapplied as (
        select transaction_id, recorded_at from vote_events
        where ${committedAfter(applied)}
        order by transaction_id, global_position limit 1
      ), horizon as (select pg_current_snapshot() as snapshot)
      select (select transaction_id::text from head) as head_tx,
             (select global_position::text from head) as head_position,
             (select transaction_id::text from first_unapplied) as unapplied_tx,
             (select extract(epoch from recorded_at)::float8 * 1000 from first_unapplied) as unapplied_ms,
             (select case when transaction_id >= pg_snapshot_xmax(snapshot) then 'restored'
                          when transaction_id >= pg_snapshot_xmin(snapshot) then 'held' else 'visible' end
              from first_unapplied, horizon) as unapplied_visible,
             pg_snapshot_xmin(snapshot)::text as horizon,
             ${applied.transactionId.toString()}::xid8 >= pg_snapshot_xmax(snapshot) as checkpoint_beyond
      from horizon
    `.execute(db),
    readOldestTransaction(db),
  ]);
  const row = rows[0]!;
  if (row.checkpoint_beyond) return measureLag(db, undefined);
  const events = row.head_position === null ? 0 : Math.max(0, Number(BigInt(row.head_position) - applied.globalPosition));
  const seconds = row.unapplied_ms === null ? 0 : Math.max(0, (Date.now() - row.unapplied_ms) / 1000);
  const head = row.head_tx === null ? null : formatPosition({ transactionId: BigInt(row.head_tx), globalPosition: BigInt(row.head_position!) });
  return { head, events, seconds, heldBackBy: heldBackBy(row, oldestTransaction), oldestTransaction };
}

function heldBackBy(row: LagRow, oldest: OldestTransaction | undefined): ProjectionLag['heldBackBy'] {
  if (row.unapplied_visible === 'restored') return { kind: 'restored', transactionId: row.unapplied_tx! };
  if (row.unapplied_visible === 'held') return oldest ?? { kind: 'unknown', transactionId: row.horizon };
  return null;
}
