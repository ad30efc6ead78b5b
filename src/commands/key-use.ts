import { type Kysely, sql } from 'kysely';
import type { Database } from '../platform/database.js';

const flushIntervalMs = 60_000;

/**
 * The last use of each project key, kept in memory and written once a minute, not once per
 * request: a vote costs no write for its key.
 */
export class KeyUseRecorder {
  private lastUse = new Map<string, Date>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(private readonly db: Kysely<Database>) {
    this.flushTimer = setInterval(() => void this.flush().catch(() => {}), flushIntervalMs).unref();
  }

  noteUse(keyId: string, at = new Date()): void {
    this.lastUse.set(keyId, at);
  }

  async flush(): Promise<void> {
    const uses = this.lastUse;
    this.lastUse = new Map();
    await recordKeyUse(this.db, uses);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flush();
  }
}

/** Writes the latest use of each key seen, one statement for all of them; never moves a time back. */
export async function recordKeyUse(db: Kysely<Database>, lastUse: ReadonlyMap<string, Date>): Promise<void> {
  if (lastUse.size === 0) return;
  const fingerprints = [...lastUse.keys()];
  const times = fingerprints.map((fingerprint) => lastUse.get(fingerprint)!.toISOString());
  await sql`
    update project_keys k set last_used_at = u.used_at
    from unnest(${fingerprints}::text[], ${times}::timestamptz[]) as u(fingerprint, used_at)
    where k.fingerprint = u.fingerprint and (k.last_used_at is null or k.last_used_at < u.used_at)
  `.execute(db);
}
