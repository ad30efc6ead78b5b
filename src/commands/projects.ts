import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RateLimitOverrides } from '../domain/rate-limit-settings.js';
import type { VoterPolicy } from '../domain/voter-policy.js';
import type { Database } from '../platform/database.js';
import { addProjectKey } from './project-keys.js';

export interface CreatedProject {
  readonly id: string;
  readonly name: string;
  readonly publicKey: string;
  /** Shown once: only its hash is stored. */
  readonly secretKey: string;
}

export async function createProject(db: Kysely<Database>, name: string): Promise<CreatedProject> {
  const id = randomUUID();
  return db.transaction().execute(async (tx) => {
    await tx.insertInto('projects').values({ id, name }).execute();
    const publicKey = await addProjectKey(tx, id, 'public');
    const secretKey = await addProjectKey(tx, id, 'secret');
    return { id, name, publicKey: publicKey.key, secretKey: secretKey.key };
  });
}

export interface SettingsChange {
  readonly voterPolicy?: VoterPolicy | undefined;
  readonly allowedOrigins?: readonly string[] | undefined;
  /** Each limit given replaces the project's own; null goes back to the deployment's. */
  readonly rateLimits?: Readonly<Partial<Record<keyof RateLimitOverrides, number | null>>> | undefined;
}

export async function updateProjectSettings(db: Kysely<Database>, projectId: string, change: SettingsChange): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom('projects').select('rate_limits').where('id', '=', projectId).forUpdate().executeTakeFirstOrThrow();
    const limits: Record<string, number | null> = { ...(current.rate_limits as RateLimitOverrides), ...change.rateLimits };
    const rateLimits = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== null));
    await tx
      .updateTable('projects')
      .set({
        ...(change.voterPolicy === undefined ? {} : { voter_policy: change.voterPolicy }),
        ...(change.allowedOrigins === undefined ? {} : { allowed_origins: [...new Set(change.allowedOrigins)] }),
        rate_limits: JSON.stringify(rateLimits),
      })
      .where('id', '=', projectId)
      .execute();
  });
}
