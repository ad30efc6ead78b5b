import type { Kysely } from 'kysely';
import { type AuthenticatedProject, findProjectByKey } from '../commands/projects.js';
import type { Database } from '../platform/database.js';
import { TtlCache } from '../platform/ttl-cache.js';

/** Which project a key belongs to, remembered for a few seconds so a vote costs no key lookup. */
export class ProjectKeyCache {
  private readonly cache: TtlCache<AuthenticatedProject | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    ttlMs: number,
  ) {
    this.cache = new TtlCache(ttlMs);
  }

  find(key: string): Promise<AuthenticatedProject | undefined> {
    return this.cache.getOrLoad(key, () => findProjectByKey(this.db, key));
  }
}
