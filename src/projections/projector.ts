import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { parsePosition } from '../domain/position.js';
import type { Database } from '../platform/database.js';
import { type LoggedVote, readEventsAfter, readLogHead } from './log-reader.js';
import { PollRulesCache } from './poll-rules-cache.js';
import type { ProjectorMetrics } from './projector-metrics.js';
import type { TallyFeed } from './tally-feed.js';
import { foldTallies, uniquePollKeys, uniqueTallyKeys } from './tally-projection.js';
import type { TallyStore } from './tally-store.js';

export interface ProjectorOptions {
  readonly db: Kysely<Database>;
  readonly store: TallyStore;
  readonly logger: Logger;
  readonly feed?: TallyFeed;
  readonly metrics?: ProjectorMetrics;
  readonly batchSize: number;
  /** Polling is the source of truth; a NOTIFY only wakes the loop early. */
  readonly pollIntervalMs: number;
}

/** Folds the vote log into the tally read model, in commit order, a batch at a time. */
export class Projector {
  private readonly rules: PollRulesCache;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(private readonly options: ProjectorOptions) {
    this.rules = new PollRulesCache(options.db);
  }

  /** Ends the current wait early: new events were committed. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Applies one batch; returns how many events it held (0 when caught up). */
  async applyNextBatch(): Promise<number> {
    const { db, store, batchSize } = this.options;
    const checkpoint = await store.readCheckpoint();
    const events = await readEventsAfter(db, checkpoint === undefined ? undefined : parsePosition(checkpoint), batchSize);
    if (events.length === 0) return 0;
    await this.apply(events);
    return events.length;
  }

  /** Applies batches until no committed event is left. */
  async catchUp(): Promise<number> {
    let applied = 0;
    for (let count = await this.applyNextBatch(); count > 0; count = await this.applyNextBatch()) applied += count;
    await this.recordLag();
    return applied;
  }

  /** Runs until the signal aborts: catch up, then wait for a wake-up or the poll interval. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.woken = false;
        await this.catchUp();
      } catch (error) {
        this.options.logger.error({ err: error }, 'projector batch failed; retrying from the checkpoint');
      }
      if (!this.woken) await this.waitForWork(signal);
    }
  }

  private async apply(events: readonly LoggedVote[]): Promise<void> {
    const { store, feed, metrics } = this.options;
    const keys = uniqueTallyKeys(events);
    const [stored] = await Promise.all([store.loadTallies(keys), this.rules.load(uniquePollKeys(keys))]);
    const changes = foldTallies(events, stored, (key) => this.rules.rulesOf(key));
    const last = events.at(-1)!;
    const checkpoint = `${last.position.transactionId}.${last.position.globalPosition}`;
    await store.applyChanges(changes, checkpoint);
    metrics?.eventsApplied.inc(events.length);
    metrics?.batchSize.observe(events.length);
    metrics?.lagSeconds.set(Math.max(0, (Date.now() - last.recordedAt.getTime()) / 1000));
    await feed?.publish(changes.map((change) => ({ ...change.key, tally: change.tally, position: change.checkpoint })));
  }

  /** After catching up, whatever is left belongs to transactions still in flight. */
  private async recordLag(): Promise<void> {
    const { metrics, store, db } = this.options;
    if (metrics === undefined) return;
    const [head, checkpoint] = await Promise.all([readLogHead(db), store.readCheckpoint()]);
    const applied = checkpoint === undefined ? 0n : parsePosition(checkpoint)!.globalPosition;
    const behind = head === undefined ? 0 : Math.max(0, Number(head.position.globalPosition - applied));
    metrics.lagEvents.set(behind);
    metrics.lagSeconds.set(behind === 0 || head === undefined ? 0 : Math.max(0, (Date.now() - head.recordedAt.getTime()) / 1000));
  }

  private waitForWork(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.options.pollIntervalMs);
      signal.addEventListener('abort', done);
      this.wakeUp = done;
    });
  }
}
