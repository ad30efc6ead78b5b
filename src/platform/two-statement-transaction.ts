import type { CompiledQuery, Kysely, RawBuilder } from 'kysely';
import pg from 'pg';
// pg's own text encoding of a parameter (arrays become array literals): what it would send as a parameter.
import pgUtils from 'pg/lib/utils.js';

/**
 * A short write transaction in two statements, a read that takes locks and a write that depends
 * on it. On PostgreSQL, BEGIN rides in one message with the first statement and COMMIT with the
 * last, so the transaction costs two round trips instead of four.
 */
export interface TwoStatementTransaction {
  /** BEGIN, then this statement; its rows. */
  first<R>(statement: RawBuilder<R>): Promise<R[]>;
  /** This statement (if any), then COMMIT; its rows. */
  last<R>(statement: RawBuilder<R> | undefined): Promise<R[]>;
}

const pools = new WeakMap<Kysely<never>, pg.Pool>();

/** Remembers the pg pool under a Kysely opened on PostgreSQL, so its transactions can take two round trips. */
export function rememberPool<DB>(db: Kysely<DB>, pool: pg.Pool): void {
  pools.set(db as unknown as Kysely<never>, pool);
}

/** The pg pool under a Kysely opened on PostgreSQL; undefined on PGlite. */
export function pgPoolOf<DB>(db: Kysely<DB>): pg.Pool | undefined {
  return pools.get(db as unknown as Kysely<never>);
}

/**
 * Runs `work` in one transaction. PostgreSQL: on a pooled client, each statement sent as one
 * simple-protocol message with BEGIN or COMMIT (a message with several statements cannot carry
 * parameters, so they are inlined as quoted literals). PGlite: a Kysely transaction.
 */
export async function inTwoStatementTransaction<DB, T>(db: Kysely<DB>, work: (tx: TwoStatementTransaction) => Promise<T>): Promise<T> {
  const pool = pools.get(db as unknown as Kysely<never>);
  if (pool === undefined) {
    return db.transaction().execute((tx) =>
      work({
        first: async (statement) => (await statement.execute(tx)).rows,
        last: async (statement) => (statement === undefined ? [] : (await statement.execute(tx)).rows),
      }),
    );
  }
  const client = await pool.connect();
  let open = false;
  let broken: Error | undefined;
  try {
    const result = await work({
      first: async (statement) => {
        open = true;
        const [, rows] = (await client.query(`begin; ${inlineParameters(statement.compile(db))}`)) as unknown as pg.QueryResult[];
        return rows!.rows;
      },
      last: async (statement) => {
        if (statement === undefined) {
          await client.query('commit');
          open = false;
          return [];
        }
        const [rows, committed] = (await client.query(`${inlineParameters(statement.compile(db))}; commit`)) as unknown as pg.QueryResult[];
        open = false;
        // COMMIT of a transaction that failed is answered ROLLBACK, not an error.
        if (committed!.command !== 'COMMIT') throw new Error(`the transaction was not committed: ${committed!.command}`);
        return rows!.rows;
      },
    });
    return result;
  } catch (error) {
    if (open) await client.query('rollback').catch((rollbackFailed: unknown) => (broken = rollbackFailed as Error));
    throw error;
  } finally {
    // A client whose rollback failed may still hold the transaction: the pool drops it.
    client.release(broken);
  }
}

/**
 * The statement with each `$n` replaced by its parameter as a quoted literal: the text pg would
 * send for it (an array as an array literal, an object as JSON), escaped with pg's escapeLiteral.
 * The untyped literal takes the type of the cast every parameter here carries.
 */
export function inlineParameters(query: CompiledQuery): string {
  let placeholders = 0;
  const text = query.sql.replace(/\$(\d+)/g, (_, index: string) => {
    placeholders = Math.max(placeholders, Number(index));
    const value: unknown = query.parameters[Number(index) - 1];
    if (value === null || value === undefined) return 'null';
    return pg.escapeLiteral(String(pgUtils.prepareValue(value)));
  });
  // A "$n" in the statement's own text would have been taken for a placeholder.
  if (placeholders !== query.parameters.length) throw new Error(`the statement has ${placeholders} placeholders for ${query.parameters.length} parameters`);
  return text;
}
