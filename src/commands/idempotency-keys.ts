import { setTimeout } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../platform/database.js';

/** How long an Idempotency-Key is honoured unless IDEMPOTENCY_KEY_TTL_SECONDS says otherwise. */
export const defaultIdempotencyKeyTtlSeconds = 24 * 60 * 60;

/**
 * Deletes at most `limit` keys older than the window and says how many went. The outer age test
 * is checked again on the row as it stands, so a key reused (and renewed) meanwhile stays.
 */
export async function deleteExpiredIdempotencyKeys(db: Kysely<Database>, ttlSeconds: number, limit: number): Promise<number> {
  const cutoff = sql`now() - ${ttlSeconds}::int * interval '1 second'`;
  const result = await sql`
    delete from idempotency_keys k
    using (select project_id, key from idempotency_keys where created_at <= ${cutoff} order by created_at limit ${limit}) expired
    where k.project_id = expired.project_id and k.key = expired.key and k.created_at <= ${cutoff}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export interface KeyExpiryOptions {
  readonly ttlSeconds: number;
  readonly intervalMs: number;
  /** Keys deleted per statement: short transactions that never hold many row locks. */
  readonly batchSize: number;
  readonly logger: Logger;
}

/** Every `intervalMs`, deletes every expired key in small batches, until the signal aborts. */
export async function expireIdempotencyKeys(db: Kysely<Database>, options: KeyExpiryOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      let deleted = 0;
      let batch: number;
      do {
        batch = await deleteExpiredIdempotencyKeys(db, options.ttlSeconds, options.batchSize);
        deleted += batch;
      } while (batch === options.batchSize && !signal.aborted);
      if (deleted > 0) options.logger.info({ deleted }, 'expired idempotency keys deleted');
    } catch (error) {
      options.logger.warn({ err: error }, 'expired idempotency keys could not be deleted; trying again later');
    }
    await setTimeout(options.intervalMs, undefined, { signal }).catch(() => {});
  }
}
