import { type Kysely, sql } from 'kysely';
import type { Database } from '../../platform/database.js';

/**
 * The oldest transaction holding a transaction id anywhere in the PostgreSQL cluster: in any
 * database, or prepared (two-phase) and waiting for COMMIT PREPARED. Transaction ids are shared
 * by the whole cluster, so while it runs no snapshot's xmin passes it, and the projector, which
 * reads only below xmin so that it never skips a transaction that commits late, waits for it.
 */
export interface OldestTransaction {
  readonly kind: 'session' | 'prepared';
  readonly transactionId: string;
  readonly database: string | null;
  /** The backend holding it; null for a prepared transaction, which outlives its session. */
  readonly pid: number | null;
  /** The name given to PREPARE TRANSACTION; null for a session. */
  readonly preparedAs: string | null;
  /** `active`, `idle in transaction`, … for a session; `prepared` otherwise. */
  readonly state: string | null;
  readonly applicationName: string | null;
  readonly ageSeconds: number;
}

/** A transaction this role may not see: another role's session, shown only to pg_read_all_stats. */
export interface UnnamedTransaction {
  readonly kind: 'unknown';
  readonly transactionId: string;
}

/**
 * Undefined when no transaction holds an id. Other roles' sessions show their transaction ids
 * only to a superuser or a member of pg_read_all_stats.
 */
export async function readOldestTransaction(db: Kysely<Database>): Promise<OldestTransaction | undefined> {
  const { rows } = await sql<{
    kind: 'session' | 'prepared'; xid: string; database: string | null; pid: number | null; gid: string | null;
    state: string | null; application_name: string | null; age_seconds: number | null;
  }>`
    select kind, xid, database, pid, gid, state, application_name, age_seconds from (
      select 'session' as kind, backend_xid::text as xid, age(backend_xid) as xid_age, datname::text as database, pid,
             null::text as gid, state, application_name,
             extract(epoch from clock_timestamp() - xact_start)::float8 as age_seconds
      from pg_stat_activity where backend_xid is not null
      union all
      select 'prepared', transaction::text, age(transaction), database::text, null, gid, 'prepared', null,
             extract(epoch from clock_timestamp() - prepared)::float8
      from pg_prepared_xacts
    ) as holding
    order by xid_age desc
    limit 1
  `.execute(db);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    kind: row.kind,
    transactionId: row.xid,
    database: row.database,
    pid: row.pid,
    preparedAs: row.gid,
    state: row.state,
    applicationName: row.application_name === '' ? null : row.application_name,
    ageSeconds: Math.max(0, row.age_seconds ?? 0),
  };
}
