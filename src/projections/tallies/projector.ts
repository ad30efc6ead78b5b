import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type PollKey, pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import { formatPosition, parsePosition } from '../../domain/position.js';
import type { Database } from '../../platform/database.js';
import { type LoggedVote, readEventsAfter } from '../log-queries/log-reader.js';
import { measureLag } from '../log-queries/projection-lag.js';
import { PollCache } from '../../catalog/poll-cache.js';
import type { ProjectorMetrics } from './projector-metrics.js';
import type { TallyFeed } from '../realtime/tally-feed.js';
import type { Tally } from '../../domain/tally.js';
import type { TallyUpdate } from '../realtime/tally-feed.js';
import { foldTallies, type PollChange, type StoredTallies, uniquePollKeys, uniqueTallyKeys } from './tally-projection.js';
import { type CheckpointMove, type TallyStore, WriteRefusedError } from './tally-store.js';
import { belongsTo, type Partition, wholeLog } from './partitions.js';

/**
 * A batch that came back full is followed by one twice its size, up to this many times the
 * configured one. Three batches are in memory at once (read, folded, written): at 4x, a catch-up of
 * 1,000,000 events over 100,000 targets ran out of the image's 160 MB heap after 73 s; at 2x the
 * same run finished with a 250 MB peak RSS.
 */
const maxBatchGrowth = 2;
const publishEveryMsWhenBehind = 1000;

export interface ProjectorOptions {
  readonly db: Kysely<Database>;
  readonly store: TallyStore;
  readonly logger: Logger;
  readonly feed?: TallyFeed;
  readonly metrics?: ProjectorMetrics;
  readonly batchSize: number;
  /** Polling is the source of truth; a NOTIFY only wakes the loop early. */
  readonly pollIntervalMs: number;
  /**
   * Tallies this projector wrote last, kept so hot targets are not read back from the store every
   * batch. Exact while this projector is the only writer; any refused write empties it. 0 = off.
   */
  readonly tallyCacheSize?: number;
  /** Told after each batch is written: how many events it held. */
  readonly onBatchApplied?: (events: number) => void;
  /** The poll cache the read side also uses; a projector of its own gets a new one. */
  readonly polls?: PollCache;
  /** The share of the polls this projector folds; the whole log unless given. */
  readonly partition?: Partition;
}

/**
 * The read model is split into another number of partitions than this projector's: its polls
 * would be folded by the wrong leaders. Changing PROJECTOR_PARTITIONS takes a rebuild.
 */
export class PartitionCountMismatchError extends Error {
  override readonly name = 'PartitionCountMismatchError';
}

/** Folds the vote log into the tally read model, in commit order, a batch at a time. */
export class Projector {
  private readonly polls: PollCache;
  private readonly partition: Partition;
  private readonly owns: (event: LoggedVote) => boolean;
  private readonly partitionLabel: { partition: string };
  private readonly written = new Map<string, Tally>();
  /** The checkpoint of each poll this projector wrote, kept with `written`. */
  private readonly pollCheckpoints = new Map<string, string>();
  /** The checkpoint this projector last wrote; undefined until read from the store. */
  private checkpoint: string | undefined;
  private lagRecordedAt = 0;
  /** Changed tallies not yet announced on the feed (while far behind), by pollIdOf, then target. */
  private readonly unpublished = new Map<string, Map<string, TallyUpdate>>();
  private publishedAt = 0;
  private lostWritesCheckedAt = 0;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(private readonly options: ProjectorOptions) {
    this.polls = options.polls ?? new PollCache(options.db);
    this.partition = options.partition ?? wholeLog;
    this.owns = belongsTo(this.partition);
    this.partitionLabel = { partition: String(this.partition.index) };
  }

  /** Ends the current wait early: new events were committed. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Projects as the leader of one term: claims the read model with a fresh epoch, then runs until
   * the term ends. `nextEpoch` draws epochs on the session that holds the leadership lock.
   */
  async lead(nextEpoch: (floor: number) => Promise<number>, signal: AbortSignal): Promise<void> {
    if (!(await this.claim(nextEpoch, signal))) return;
    this.options.metrics?.leading.set(this.partitionLabel, 1);
    try {
      await this.run(signal);
    } finally {
      this.options.metrics?.leading.set(this.partitionLabel, 0);
    }
  }

  /**
   * Makes this projector the store's only writer: claims a leadership epoch there, so writes of
   * any older leader are refused. `nextEpoch(floor)` hands out an epoch above every earlier one and
   * above `floor`; a store already fenced above ours (by the leaders of another database, before a
   * restore) is passed with a higher one. Retries until the store answers or the signal aborts.
   */
  async claim(nextEpoch: (floor: number) => Promise<number>, signal: AbortSignal): Promise<boolean> {
    const { store, logger } = this.options;
    while (!signal.aborted) {
      try {
        let epoch = await nextEpoch(0);
        const { index } = this.partition;
        for (let held = await store.claimWriter(epoch, index); held !== epoch; held = await store.claimWriter(epoch, index)) epoch = await nextEpoch(held);
        this.forget();
        logger.info({ epoch, partition: index, partitions: this.partition.count }, 'projector claimed the read model');
        return true;
      } catch (error) {
        logger.error({ err: error }, 'projector could not claim the read model; retrying');
        await this.waitForWork(signal);
      }
    }
    return false;
  }

  /**
   * Applies batches until no committed event is left or `signal` aborts. Three batches overlap:
   * the next is read from PostgreSQL and folded while the previous one is still being written.
   * Every batch moves the partition's checkpoint to its last event, whether or not the partition
   * had an event in it.
   */
  async catchUp(signal?: AbortSignal): Promise<number> {
    const { db, store, batchSize } = this.options;
    if (await store.followLiveGeneration()) this.forget();
    this.assertPartitionCount();
    // Only this projector moves the checkpoint while it leads; every write checks the store is still there.
    let from = (this.checkpoint ??= await store.readCheckpoint(this.partition.index));
    let size = batchSize;
    let reading = readEventsAfter(db, from === undefined ? undefined : parsePosition(from), size);
    let writing: Promise<void> = Promise.resolve();
    let applied = 0;
    try {
      // Stops between batches once told to: a projector that lost its leadership must stop writing.
      for (let events = await reading; events.length > 0 && signal?.aborted !== true; events = await reading) {
        // Far behind, bigger batches: hot tallies coalesce more, and each round trip carries more.
        const behind = events.length === size;
        size = behind ? Math.min(size * 2, batchSize * maxBatchGrowth) : batchSize;
        reading = readEventsAfter(db, events.at(-1)!.position, size);
        reading.catch(() => {}); // a failed batch abandons this read; its error is not news
        if (!this.caching()) await writing;
        const mine = this.partition.count === 1 ? events : events.filter(this.owns);
        const { changes, polls } = await this.fold(mine);
        await writing;
        const move = { from, to: formatPosition(events.at(-1)!.position), polls, partition: this.partition.index };
        writing = this.write(events, mine.length, changes, move, behind);
        writing.catch(() => {}); // awaited before the next write; a failure is rethrown there
        from = move.to;
        applied += events.length;
      }
      await writing;
      if (this.unpublished.size > 0) await this.publish(from!);
      if (applied === 0) await this.noticeLostWrites();
    } catch (error) {
      await writing.catch(() => {});
      this.forget();
      throw error;
    }
    this.recordLag();
    return applied;
  }

  /** Runs until the signal aborts: catch up, then wait for a wake-up or the poll interval. */
  async run(signal: AbortSignal): Promise<void> {
    // Another projector may have led since this one last ran: read the checkpoint back.
    this.forget();
    while (!signal.aborted) {
      let failed = false;
      try {
        this.woken = false;
        await this.catchUp(signal);
      } catch (error) {
        failed = true;
        if (error instanceof WriteRefusedError) this.options.logger.warn({ err: error, reason: error.reason }, 'the read model refused a write; reading it back');
        else this.options.logger.error({ err: error }, 'projector batch failed; retrying from the checkpoint');
      }
      // After a failure wait a full interval, so a lost Redis or database is not hammered.
      if (failed || !this.woken) await this.waitForWork(signal);
    }
  }

  private assertPartitionCount(): void {
    const { partitions } = this.options.store;
    if (partitions === this.partition.count) return;
    throw new PartitionCountMismatchError(
      `The live read model is split into ${partitions} partition(s), this projector into ${this.partition.count}: ` +
        `set PROJECTOR_PARTITIONS=${partitions}, or rebuild the read model with the new count (npm run replay) before its projectors use it.`,
    );
  }

  /** The batch's changes, and every poll it has an event of (a poll whose events were all written before has no change). */
  private async fold(events: readonly LoggedVote[]): Promise<{ changes: PollChange[]; polls: PollKey[] }> {
    const keys = uniqueTallyKeys(events);
    const polls = uniquePollKeys(keys);
    const [stored] = await Promise.all([this.loadTallies(keys), this.polls.loadRules(polls)]);
    const changes = foldTallies(events, stored, (key) => this.polls.rulesOf(key));
    this.remember(changes);
    return { changes, polls };
  }

  /** `events`: the batch as read; `folded` of them are this partition's (all, without partitions). */
  private async write(events: readonly LoggedVote[], folded: number, changes: readonly PollChange[], move: CheckpointMove, behind: boolean): Promise<void> {
    const { store, feed, metrics } = this.options;
    const last = events.at(-1)!;
    await store.applyChanges(changes, move);
    this.checkpoint = move.to;
    this.options.onBatchApplied?.(events.length);
    // Summed over the partitions, the metrics count each event once.
    metrics?.eventsApplied.inc(folded);
    metrics?.batchSize.observe(folded);
    metrics?.lagSeconds.set(this.partitionLabel, Math.max(0, (Date.now() - last.recordedAtMs) / 1000));
    if (feed === undefined) return;
    for (const change of changes) this.holdBack(change);
    // Far behind, only the latest of each tally is worth announcing: at most once a second.
    const announce = !behind || Date.now() - this.publishedAt >= publishEveryMsWhenBehind;
    await this.publish(move.to, announce);
  }

  /** Keeps the change's tallies for the next announcement, replacing older ones of the same target: one id per poll, not per tally. */
  private holdBack(change: PollChange): void {
    const pollId = pollIdOf(change.poll);
    let byTarget = this.unpublished.get(pollId);
    if (byTarget === undefined) this.unpublished.set(pollId, (byTarget = new Map()));
    const { projectId, poll } = change.poll;
    for (const { key, tally } of change.tallies) byTarget.set(key.target, { projectId, poll, target: key.target, tally, position: change.checkpoint });
  }

  /** Tells the feed where the projection stands, with the changed tallies held back if `announce`. */
  private async publish(checkpoint: string, announce = true): Promise<void> {
    const updates = announce ? [...this.unpublished.values()].flatMap((byTarget) => [...byTarget.values()]) : [];
    if (announce) {
      this.unpublished.clear();
      this.publishedAt = Date.now();
    }
    await this.options.feed?.publish({ checkpoint, updates, partition: this.partition });
  }

  /** What the store holds of `keys`, from what this projector wrote where it remembers it. */
  private async loadTallies(keys: readonly TallyKey[]): Promise<StoredTallies> {
    const tallies = new Map<string, Tally>();
    const checkpoints = new Map<string, string>();
    const missing: TallyKey[] = [];
    for (const key of keys) {
      const id = tallyIdOf(key);
      const pollId = pollIdOf(key);
      const known = this.written.get(id);
      const checkpoint = this.pollCheckpoints.get(pollId);
      if (known !== undefined) tallies.set(id, known);
      if (checkpoint !== undefined) checkpoints.set(pollId, checkpoint);
      if (known === undefined || checkpoint === undefined) missing.push(key);
    }
    if (missing.length === 0) return { tallies, checkpoints };
    // What this projector wrote is at least as new as what it reads back.
    const loaded = await this.options.store.loadTallies(missing);
    for (const [id, tally] of loaded.tallies) if (!tallies.has(id)) tallies.set(id, tally);
    for (const [id, checkpoint] of loaded.checkpoints) if (!checkpoints.has(id)) checkpoints.set(id, checkpoint);
    return { tallies, checkpoints };
  }

  /**
   * With nothing to write, nothing would notice Redis losing data (a FLUSHALL, a restart from older
   * data): compare the checkpoint, at most once a second, so an idle projector restores what was
   * lost without waiting for a vote.
   */
  private async noticeLostWrites(): Promise<void> {
    if (this.checkpoint === undefined || Date.now() - this.lostWritesCheckedAt < 1000) return;
    this.lostWritesCheckedAt = Date.now();
    if ((await this.options.store.readCheckpoint(this.partition.index)) === this.checkpoint) return;
    this.options.logger.warn({ checkpoint: this.checkpoint }, 'the read model is not at the checkpoint this projector wrote; reading it back');
    this.forget();
  }

  /** Drops what this projector remembered of the store; it is read back on the next batch. */
  private forget(): void {
    this.written.clear();
    this.pollCheckpoints.clear();
    this.checkpoint = undefined;
  }

  private caching(): boolean {
    return (this.options.tallyCacheSize ?? 0) > 0;
  }

  /** Folded tallies are remembered before they are written; a failed write forgets them all. */
  private remember(changes: readonly PollChange[]): void {
    const limit = this.options.tallyCacheSize ?? 0;
    if (limit === 0) return;
    if (this.written.size + changes.reduce((sum, change) => sum + change.tallies.length, 0) > limit) {
      this.written.clear();
      this.pollCheckpoints.clear();
    }
    for (const change of changes) {
      this.pollCheckpoints.set(pollIdOf(change.poll), change.checkpoint);
      for (const tally of change.tallies) this.written.set(tallyIdOf(tally.key), tally.tally);
    }
  }

  /**
   * After catching up, whatever is left belongs to transactions still in flight. At most once a
   * second, and beside the next batches rather than before them: the two queries took the
   * projector's wake-up for themselves once a second.
   */
  private recordLag(): void {
    const { metrics, db, logger } = this.options;
    if (metrics === undefined || Date.now() - this.lagRecordedAt < 1000) return;
    this.lagRecordedAt = Date.now();
    measureLag(db, this.checkpoint).then(
      (lag) => {
        metrics.lagEvents.set(this.partitionLabel, lag.events);
        metrics.lagSeconds.set(this.partitionLabel, lag.seconds);
        metrics.oldestTransactionSeconds.set(lag.oldestTransaction?.ageSeconds ?? 0);
      },
      (error: unknown) => logger.warn({ err: error }, 'projector could not measure its lag'),
    );
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
