import type { Kysely } from 'kysely';
import { recordKeyUse } from '../commands/project-keys.js';
import { type AuthenticatedProject, findProjectByKey } from '../commands/projects.js';
import type { Database } from '../platform/database.js';
import { TtlCache } from '../platform/ttl-cache.js';

const keyUseFlushMs = 60_000;

/**
 * Which project a key belongs to, remembered for a few seconds so a vote costs no key lookup.
 * A revoked key or a changed setting takes effect at once on the replica that made the change
 * and within the cache time on the others. The last use of each key is kept here and written
 * once a minute, not once per request.
 */
export class ProjectKeyCache {
  private readonly cache: TtlCache<AuthenticatedProject | undefined>;
  private lastUse = new Map<string, Date>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly db: Kysely<Database>,
    ttlMs: number,
  ) {
    this.cache = new TtlCache(ttlMs);
    this.flushTimer = setInterval(() => void this.flushKeyUse().catch(() => {}), keyUseFlushMs).unref();
  }

  async find(key: string): Promise<AuthenticatedProject | undefined> {
    const project = await this.cache.getOrLoad(key, () => findProjectByKey(this.db, key));
    if (project !== undefined) this.lastUse.set(project.keyId, new Date());
    return project;
  }

  /** After a project's settings or keys change: every replica's cache expires on its own. */
  forget(): void {
    this.cache.clear();
  }

  async flushKeyUse(): Promise<void> {
    const uses = this.lastUse;
    this.lastUse = new Map();
    await recordKeyUse(this.db, uses);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushKeyUse();
  }
}
