import { sql } from 'kysely';
import type { LogPosition } from '../domain/position.js';

/**
 * The log's commit order in SQL: (transaction_id, global_position) compared as a row. Every reader
 * that pages the log states "committed after this position" with this one fragment.
 */
export function committedAfter(position: LogPosition) {
  return sql<boolean>`(transaction_id, global_position) > (${position.transactionId.toString()}::xid8, ${position.globalPosition.toString()}::bigint)`;
}

export function committedBefore(position: LogPosition) {
  return sql<boolean>`(transaction_id, global_position) < (${position.transactionId.toString()}::xid8, ${position.globalPosition.toString()}::bigint)`;
}

export function committedUpTo(position: LogPosition) {
  return sql<boolean>`(transaction_id, global_position) <= (${position.transactionId.toString()}::xid8, ${position.globalPosition.toString()}::bigint)`;
}

/** A position read as two text columns (`tx`, `pos`); TypeScript turns them into a LogPosition. */
export const positionColumns = sql`transaction_id::text as tx, global_position::text as pos`;

export interface PositionColumns {
  readonly tx: string;
  readonly pos: string;
}

export function positionFromColumns(row: PositionColumns): LogPosition {
  return { transactionId: BigInt(row.tx), globalPosition: BigInt(row.pos) };
}

/**
 * The position token rendered by PostgreSQL, where PostgreSQL renders the whole JSON document
 * (the NDJSON export, an idempotency key's stored answer) or a reader keeps one string per event
 * instead of two (the projector): it must match formatPosition and parsePosition.
 */
export function positionTokenSql(table?: string) {
  const column = (name: string) => (table === undefined ? sql.ref(name) : sql.ref(`${table}.${name}`));
  return sql<string>`${column('transaction_id')}::text || '.' || ${column('global_position')}::text`;
}
