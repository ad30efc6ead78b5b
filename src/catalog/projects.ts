import { type Kysely, sql } from 'kysely';
import type { RateLimitOverrides } from '../domain/rate-limit-settings.js';
import type { KeyAccess, VoterPolicy } from '../domain/voter-policy.js';
import type { Database } from '../platform/database.js';
import { accessOfKey, hashKey } from './project-keys.js';

export interface ProjectSettings {
  readonly voterPolicy: VoterPolicy;
  readonly allowedOrigins: readonly string[];
  readonly rateLimits: RateLimitOverrides;
}

/** A key that signs voter tokens: the SHA-256 digest of one of the project's live secret keys. */
export interface TokenKey {
  readonly fingerprint: string;
  readonly secret: Uint8Array;
}

export interface AuthenticatedProject extends ProjectSettings {
  readonly id: string;
  readonly name: string;
  readonly access: KeyAccess;
  /** The fingerprint of the key used, safe to log and to store with events. */
  readonly keyId: string;
  /** Newest first: a token minted here is signed with the first. */
  readonly tokenKeys: readonly TokenKey[];
}

export async function listProjects(db: Kysely<Database>): Promise<{ id: string; name: string; createdAt: Date }[]> {
  const rows = await db.selectFrom('projects').select(['id', 'name', 'created_at']).orderBy('created_at').orderBy('id').execute();
  return rows.map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at }));
}

/** Finds the project a live bearer key belongs to, with what a request needs to check voters and origins. */
export async function findProjectByKey(db: Kysely<Database>, key: string): Promise<AuthenticatedProject | undefined> {
  const access = accessOfKey(key);
  if (access === undefined) return undefined;
  const { rows } = await sql<{
    id: string; name: string; voter_policy: VoterPolicy; allowed_origins: string[]; rate_limits: RateLimitOverrides;
    fingerprint: string; kind: KeyAccess; token_keys: { fingerprint: string; hash: string }[];
  }>`
    select p.id, p.name, p.voter_policy, p.allowed_origins, p.rate_limits, k.fingerprint, k.kind,
           (select coalesce(json_agg(json_build_object('fingerprint', s.fingerprint, 'hash', s.key_hash) order by s.created_at desc, s.fingerprint), '[]')
            from project_keys s where s.project_id = p.id and s.kind = 'secret' and s.revoked_at is null) as token_keys
    from project_keys k join projects p on p.id = k.project_id
    where k.key_hash = ${hashKey(key)} and k.revoked_at is null
  `.execute(db);
  const row = rows[0];
  if (row === undefined || row.kind !== access) return undefined;
  return {
    id: row.id,
    name: row.name,
    access,
    keyId: row.fingerprint,
    voterPolicy: row.voter_policy,
    allowedOrigins: row.allowed_origins,
    rateLimits: row.rate_limits,
    tokenKeys: row.token_keys.map((tokenKey) => ({ fingerprint: tokenKey.fingerprint, secret: Buffer.from(tokenKey.hash, 'hex') })),
  };
}

export async function readProjectSettings(db: Kysely<Database>, projectId: string): Promise<ProjectSettings & { id: string; name: string }> {
  const row = await db
    .selectFrom('projects')
    .select(['id', 'name', 'voter_policy', 'allowed_origins', 'rate_limits'])
    .where('id', '=', projectId)
    .executeTakeFirstOrThrow();
  return {
    id: row.id,
    name: row.name,
    voterPolicy: row.voter_policy as VoterPolicy,
    allowedOrigins: row.allowed_origins,
    rateLimits: row.rate_limits as RateLimitOverrides,
  };
}
