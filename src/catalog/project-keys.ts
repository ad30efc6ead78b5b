import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { KeyAccess } from '../domain/voter-policy.js';
import type { Database } from '../platform/database.js';

export const publicKeyPrefix = 'cv_pk_';
export const secretKeyPrefix = 'cv_sk_';

export interface KeyView {
  readonly fingerprint: string;
  readonly kind: KeyAccess;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export function accessOfKey(key: string): KeyAccess | undefined {
  return key.startsWith(secretKeyPrefix) ? 'secret' : key.startsWith(publicKeyPrefix) ? 'public' : undefined;
}

// Keys carry 144 to 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function listProjectKeys(db: Kysely<Database>, projectId: string): Promise<KeyView[]> {
  const rows = await db
    .selectFrom('project_keys')
    .select(['fingerprint', 'kind', 'created_at', 'last_used_at'])
    .where('project_id', '=', projectId)
    .where('revoked_at', 'is', null)
    .orderBy('created_at')
    .orderBy('fingerprint')
    .execute();
  return rows.map((row) => ({ fingerprint: row.fingerprint, kind: row.kind, createdAt: row.created_at, lastUsedAt: row.last_used_at }));
}
