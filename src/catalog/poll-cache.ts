import type { Kysely } from 'kysely';
import { type PollKey, pollIdOf } from '../domain/identity-keys.js';
import type { PollRules } from '../domain/poll.js';
import type { Database } from '../platform/database.js';
import { findPoll, type PollView, readPolls } from './polls.js';

export interface PollCacheOptions {
  /** How long an answer to `find` is kept; 0 asks the database every time. */
  readonly cacheMs: number;
  /** Bound on answers kept for `find`, so poll names made up by clients cannot grow it without end. */
  readonly maxEntries?: number;
}

interface Entry {
  readonly poll: PollView | undefined;
  readonly loadedAt: number;
  /** Loaded after the poll was seen in the log: it has votes, so its kind and scale are fixed. */
  readonly settled: boolean;
}

/**
 * Polls as the read side and the projector see them: one cache, two freshness rules. Readers get
 * an answer at most `cacheMs` old. The projector asks only for polls it met in the log, whose kind
 * and scale can no longer change (definePoll refuses once a poll has votes), so their rules are
 * loaded once and kept for good; those entries are never evicted.
 */
export class PollCache {
  private readonly entries = new Map<string, Entry>();
  private settledCount = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: PollCacheOptions = { cacheMs: 0 },
  ) {}

  async find(key: PollKey): Promise<PollView | undefined> {
    const id = pollIdOf(key);
    const cached = this.entries.get(id);
    if (cached !== undefined && Date.now() - cached.loadedAt < this.options.cacheMs) return cached.poll;
    const poll = await findPoll(this.db, key.projectId, key.poll);
    // A settled poll's rules stay for the projector even if the row went (an import rewrites it).
    if (cached?.settled !== true || poll !== undefined) this.keep(id, { poll, loadedAt: Date.now(), settled: cached?.settled === true });
    return poll;
  }

  /** Before folding votes of these polls: loads, in one round trip, the rules not yet settled. */
  async loadRules(polls: readonly PollKey[]): Promise<void> {
    const unsettled = polls.filter((poll) => this.entries.get(pollIdOf(poll))?.settled !== true);
    if (unsettled.length === 0) return;
    const loadedAt = Date.now();
    for (const [id, poll] of await readPolls(this.db, unsettled)) this.keep(id, { poll, loadedAt, settled: true });
  }

  rulesOf(key: PollKey): PollRules {
    const entry = this.entries.get(pollIdOf(key));
    if (entry?.settled !== true || entry.poll === undefined) throw new Error(`No rules loaded for poll ${key.poll} of project ${key.projectId}`);
    return entry.poll;
  }

  private keep(id: string, entry: Entry): void {
    if (!entry.settled && this.options.cacheMs <= 0) return;
    const before = this.entries.get(id);
    if (before === undefined && this.entries.size - this.settledCount >= (this.options.maxEntries ?? 10_000)) this.dropUnsettled();
    if (entry.settled && before?.settled !== true) this.settledCount += 1;
    this.entries.set(id, entry);
  }

  private dropUnsettled(): void {
    for (const [id, entry] of this.entries) if (!entry.settled) this.entries.delete(id);
  }
}
