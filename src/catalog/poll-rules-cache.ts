import type { Kysely } from 'kysely';
import { type PollKey, pollIdOf } from '../domain/identity-keys.js';
import type { PollRules } from '../domain/poll.js';
import type { Database } from '../platform/database.js';
import { readPolls } from './polls.js';

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
    for (const [id, poll] of await readPolls(this.db, missing)) this.rules.set(id, { kind: poll.kind, min: poll.min, max: poll.max });
  }

  rulesOf(poll: PollKey): PollRules {
    const rules = this.rules.get(pollIdOf(poll));
    if (rules === undefined) throw new Error(`No rules loaded for poll ${poll.poll} of project ${poll.projectId}`);
    return rules;
  }
}
