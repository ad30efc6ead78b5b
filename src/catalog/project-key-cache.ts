import type { Kysely } from 'kysely';
import type { Database } from '../platform/database.js';
import { notCached, TtlCache } from '../platform/ttl-cache.js';
import { type AuthenticatedProject, findProjectByKey } from './projects.js';

/**
 * Which project a key belongs to, remembered for a few seconds so a vote costs no key lookup.
 * A revoked key or a changed setting takes effect at once on the replica that made the change
 * and within the cache time on the others. Each key found is reported to `onUse`: recording the
 * use is a write, and it stays with the write side (KeyUseRecorder).
 */
export class ProjectKeyCache {
  private readonly cache: TtlCache<AuthenticatedProject | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    ttlMs: number,
    private readonly onUse: (project: AuthenticatedProject) => void = () => {},
  ) {
    this.cache = new TtlCache(ttlMs);
  }

  async find(key: string): Promise<AuthenticatedProject | undefined> {
    return this.used(await this.cache.getOrLoad(key, () => findProjectByKey(this.db, key)));
  }

  /** The key's project when it is remembered, without waiting; `notCached` when it must be looked up. */
  findCached(key: string): AuthenticatedProject | undefined | typeof notCached {
    const project = this.cache.peek(key);
    return project === notCached ? notCached : this.used(project);
  }

  private used(project: AuthenticatedProject | undefined): AuthenticatedProject | undefined {
    if (project !== undefined) this.onUse(project);
    return project;
  }

  /** After a project's settings or keys change: every replica's cache expires on its own. */
  forget(): void {
    this.cache.clear();
  }
}
