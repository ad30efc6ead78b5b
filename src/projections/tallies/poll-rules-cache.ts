import { type Kysely, sql } from 'kysely';
import { type PollKey, pollIdOf } from '../../domain/identity-keys.js';
import type { PollKind, PollRules } from '../../domain/poll.js';
import type { Database } from '../../platform/database.js';

/**
 * Poll rules for scoring. A poll's kind and scale cannot change once it has votes, so rules
 * seen in the log are cached for good.
 */
export class PollRulesCache {
  private readonly rules = new Map<string, PollRules>();

  constructor(private readonly db: Kysely<Database>) {}

  async load(polls: readonly PollKey[]): Promise<void> {
    const missing = polls.filter((poll) => !this.rules.has(pollIdOf(poll)));
    if (missing.length === 0) return;
    const { rows } = await sql<{ project_id: string; name: string; kind: PollKind; min_value: number; max_value: number }>`
      select p.project_id, p.name, p.kind, p.min_value, p.max_value
      from polls p
      join unnest(${missing.map((poll) => poll.projectId)}::uuid[], ${missing.map((poll) => poll.poll)}::text[]) as w(project_id, name)
        on p.project_id = w.project_id and p.name = w.name
    `.execute(this.db);
    for (const row of rows) {
      this.rules.set(pollIdOf({ projectId: row.project_id, poll: row.name }), { kind: row.kind, min: row.min_value, max: row.max_value });
    }
  }

  rulesOf(poll: PollKey): PollRules {
    const rules = this.rules.get(pollIdOf(poll));
    if (rules === undefined) throw new Error(`No rules loaded for poll ${poll.poll} of project ${poll.projectId}`);
    return rules;
  }
}
