import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { type ColumnType, type Generated, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PgliteDialect } from './pglite-dialect.js';
import { rememberPool } from './two-statement-transaction.js';

export interface ProjectsTable {
  id: string;
  name: string;
  voter_policy: ColumnType<string, string | undefined, string>;
  allowed_origins: ColumnType<string[], string[] | undefined, string[]>;
  rate_limits: ColumnType<unknown, string | undefined, string>;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface ProjectKeysTable {
  fingerprint: string;
  project_id: string;
  kind: 'public' | 'secret';
  key_hash: string;
  created_at: ColumnType<Date, Date | undefined, never>;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface PollsTable {
  project_id: string;
  name: string;
  kind: string;
  min_value: number;
  max_value: number;
  /** At most this many targets; null: no limit. */
  max_targets: ColumnType<number | null, number | null | undefined, number | null>;
  /** Targets with a ballot, kept by the append path while max_targets is set; else null. */
  target_count: ColumnType<number | null, number | null | undefined, number | null>;
  archived_at: Date | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: Date;
}

export interface VoteEventsTable {
  global_position: ColumnType<string, never, never>;
  transaction_id: ColumnType<string, never, never>;
  event_id: string;
  project_id: string;
  poll: string;
  target: string;
  voter: string;
  stream_version: number;
  type: 'VoteCast' | 'VoteRetracted';
  value: number;
  previous: number;
  metadata: unknown;
  recorded_at: Date;
  idempotency_key: string | null;
}

export interface BallotsTable {
  project_id: string;
  poll: string;
  target: string;
  voter: string;
  value: number;
  version: number;
  last_transaction_id: string;
  last_global_position: string;
  updated_at: Date;
}

export interface IdempotencyKeysTable {
  project_id: string;
  key: string;
  request_hash: string;
  result: unknown;
  created_at: Generated<Date>;
}

export interface Database {
  projects: ProjectsTable;
  project_keys: ProjectKeysTable;
  polls: PollsTable;
  vote_events: VoteEventsTable;
  ballots: BallotsTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type DatabaseEngine = 'postgres' | 'pglite';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly engine: DatabaseEngine;
  close(): Promise<void>;
}

// int8 and numeric come back as strings from pg; positions and counts are read as such explicitly.
export function openPostgres(
  connectionString: string,
  poolSize: number,
  onConnectionError: (error: Error) => void = () => {},
): DatabaseHandle {
  const pool = new pg.Pool({ connectionString, max: poolSize, keepAlive: true });
  // A client whose server session ends (restart, failover, pg_terminate_backend, a network drop)
  // emits 'error' whether it is idle or checked out, and an 'error' nobody hears ends the process.
  // Every client is heard for its whole life; the pool drops it and the next query opens a new one.
  pool.on('connect', (client) => client.on('error', onConnectionError));
  pool.on('error', () => {}); // the same error, repeated by the pool for idle clients
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  rememberPool(db, pool);
  return { db, engine: 'postgres', close: () => db.destroy() };
}

const connectionLostCodes = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const connectionLostMessages = /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect)/;

/**
 * True when a query failed because the database could not be reached or its session ended
 * (admin shutdown, crash, starting up, any connection exception): worth a retry later, not a bug.
 */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || connectionLostCodes.has(code))) return true;
  if (error instanceof AggregateError) return error.errors.some(isConnectionLost);
  return connectionLostMessages.test(error.message);
}

/** `dataDir` undefined keeps the database in memory (tests). */
export async function openPglite(dataDir?: string): Promise<DatabaseHandle> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir === undefined ? {} : { dataDir });
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite) });
  return { db, engine: 'pglite', close: () => db.destroy() };
}
