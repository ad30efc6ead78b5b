import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { hashKey, publicKeyPrefix, secretKeyPrefix } from '../catalog/project-keys.js';
import { ClickvoteError } from '../domain/errors.js';
import type { KeyAccess } from '../domain/voter-policy.js';
import type { Database } from '../platform/database.js';

export interface NewKey {
  readonly fingerprint: string;
  readonly kind: KeyAccess;
  /** Shown once: only its hash is stored. */
  readonly key: string;
}

/** Creates a key and stores its hash; the key itself is in the answer only. */
export async function addProjectKey(db: Kysely<Database> | Transaction<Database>, projectId: string, kind: KeyAccess, now = new Date()): Promise<NewKey> {
  const key = kind === 'secret' ? secretKeyPrefix + randomBytes(32).toString('base64url') : publicKeyPrefix + randomBytes(18).toString('base64url');
  const fingerprint = `${key.slice(0, secretKeyPrefix.length)}${createHash('sha256').update(`fingerprint:${key}`).digest('hex').slice(0, 12)}`;
  await db.insertInto('project_keys').values({ fingerprint, project_id: projectId, kind, key_hash: hashKey(key), created_at: now }).execute();
  return { fingerprint, kind, key };
}

/**
 * Revokes a live key. The project row is locked first, so two revocations at once cannot both
 * take away the last key of a kind.
 */
export async function revokeProjectKey(db: Kysely<Database>, projectId: string, fingerprint: string, now = new Date()): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.selectFrom('projects').select('id').where('id', '=', projectId).forUpdate().execute();
    const live = await tx.selectFrom('project_keys').select(['fingerprint', 'kind']).where('project_id', '=', projectId).where('revoked_at', 'is', null).execute();
    const revoked = live.find((key) => key.fingerprint === fingerprint);
    if (revoked === undefined) throw new ClickvoteError('key_not_found', `The project has no live key with fingerprint ${fingerprint}.`);
    if (live.filter((key) => key.kind === revoked.kind).length === 1) {
      throw new ClickvoteError('last_key_of_kind', `This is the project's last ${revoked.kind} key: create another one before revoking it.`);
    }
    await tx.updateTable('project_keys').set({ revoked_at: now }).where('fingerprint', '=', fingerprint).execute();
  });
}
