import type { Kysely } from 'kysely';
import { type AuthenticatedProject, findProjectByKey } from '../commands/projects.js';
import type { Database } from '../platform/database.js';

const maxEntries = 10_000;

/**
 * Remembers which project a key belongs to for a few seconds, so a busy API does not ask
 * PostgreSQL on every vote. Unknown keys are remembered too, bounded, so made-up keys cannot
 * turn into a query each.
 */
export class ProjectKeyCache {
  private readonly entries = new Map<string, { project: AuthenticatedProject | undefined; until: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly ttlMs: number,
  ) {}

  async find(key: string): Promise<AuthenticatedProject | undefined> {
    const cached = this.entries.get(key);
    if (cached !== undefined && cached.until > Date.now()) return cached.project;
    const project = await findProjectByKey(this.db, key);
    if (this.entries.size >= maxEntries) this.entries.clear();
    this.entries.set(key, { project, until: Date.now() + this.ttlMs });
    return project;
  }
}
