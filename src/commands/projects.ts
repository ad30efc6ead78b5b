import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../platform/database.js';

export type KeyAccess = 'public' | 'secret';

export interface CreatedProject {
  readonly id: string;
  readonly name: string;
  readonly publicKey: string;
  /** Shown once: only its hash is stored. */
  readonly secretKey: string;
}

export interface AuthenticatedProject {
  readonly id: string;
  readonly name: string;
  readonly access: KeyAccess;
  /** A stable fingerprint of the key used, safe to log and to store with events. */
  readonly keyId: string;
}

export const publicKeyPrefix = 'cv_pk_';
export const secretKeyPrefix = 'cv_sk_';

export async function createProject(db: Kysely<Database>, name: string): Promise<CreatedProject> {
  const project = {
    id: randomUUID(),
    name,
    publicKey: publicKeyPrefix + randomBytes(18).toString('base64url'),
    secretKey: secretKeyPrefix + randomBytes(32).toString('base64url'),
  };
  await db
    .insertInto('projects')
    .values({ id: project.id, name, public_key: project.publicKey, secret_key_hash: hashKey(project.secretKey) })
    .execute();
  return project;
}

/** Finds the project a bearer key belongs to; a secret key also grants everything a public key does. */
export async function findProjectByKey(db: Kysely<Database>, key: string): Promise<AuthenticatedProject | undefined> {
  const access: KeyAccess | undefined = key.startsWith(secretKeyPrefix)
    ? 'secret'
    : key.startsWith(publicKeyPrefix)
      ? 'public'
      : undefined;
  if (access === undefined) return undefined;
  const row = await db
    .selectFrom('projects')
    .select(['id', 'name'])
    .where(access === 'secret' ? 'secret_key_hash' : 'public_key', '=', access === 'secret' ? hashKey(key) : key)
    .executeTakeFirst();
  return row === undefined ? undefined : { id: row.id, name: row.name, access, keyId: keyFingerprint(key) };
}

// Keys carry 144 to 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function keyFingerprint(key: string): string {
  return `${key.slice(0, secretKeyPrefix.length)}${createHash('sha256').update(`fingerprint:${key}`).digest('hex').slice(0, 12)}`;
}
