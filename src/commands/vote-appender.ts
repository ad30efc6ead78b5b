import type { Kysely } from 'kysely';
import { ClickvoteError } from '../domain/errors.js';
import type { Database } from '../platform/database.js';
import type { AppendMetrics } from './append-metrics.js';
import { appendVoteBatch } from './append-votes.js';
import { defaultIdempotencyKeyTtlSeconds } from './idempotency-keys.js';
import type { VoteCommand, VoteReceipt } from '../domain/vote-command.js';

export interface VoteAppenderOptions {
  /**
   * How long a command waits for company while other batches are in flight. An idle appender
   * sends a command on the next turn of the event loop, so a lone caller pays no window.
   */
  readonly windowMs: number;
  readonly maxBatch: number;
  /** Batches in flight at once; each holds one database connection. */
  readonly maxConcurrentBatches: number;
  readonly maxAttempts?: number;
  /** How long an Idempotency-Key is honoured (default 24 hours). */
  readonly idempotencyKeyTtlSeconds?: number;
  readonly onBatchAppended?: (batch: { size: number; durationMs: number }) => void;
  /** Throws a ClickvoteError for a command the service cannot take now, before it is queued. */
  readonly admit?: (command: VoteCommand) => void;
  readonly metrics?: AppendMetrics;
}

const minimumSplit = 16;

interface Waiting {
  readonly command: VoteCommand;
  readonly resolve: (receipt: VoteReceipt) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: commands arriving within a short window are appended together in one
 * transaction, while every caller still gets its own answer or its own error.
 */
export class VoteAppender {
  private queue: Waiting[] = [];
  /** Cancels the flush scheduled for the commands waiting in the queue, if one is. */
  private cancelScheduledFlush: (() => void) | undefined;
  private inFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: VoteAppenderOptions,
  ) {}

  submit(command: VoteCommand): Promise<VoteReceipt> {
    if (this.closing) return Promise.reject(new ClickvoteError('unavailable', 'The service is shutting down.'));
    try {
      this.options.admit?.(command);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.startBatches();
      else this.scheduleFlush();
    });
  }

  /** Stops taking commands and resolves once every accepted one has been answered. */
  async close(): Promise<void> {
    this.closing = true;
    this.cancelScheduledFlush?.();
    this.cancelScheduledFlush = undefined;
    this.startBatches();
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
  }

  /** The queue goes out on the next turn of the event loop, or after the window while batches are in flight. */
  private scheduleFlush(): void {
    if (this.cancelScheduledFlush !== undefined) return;
    const flush = () => {
      this.cancelScheduledFlush = undefined;
      this.startBatches();
    };
    if (this.inFlight === 0 || this.options.windowMs === 0) {
      const immediate = setImmediate(flush);
      this.cancelScheduledFlush = () => clearImmediate(immediate);
    } else {
      const timeout = setTimeout(flush, this.options.windowMs);
      this.cancelScheduledFlush = () => clearTimeout(timeout);
    }
  }

  private startBatches(): void {
    while (this.inFlight < this.options.maxConcurrentBatches && this.queue.length > 0) {
      // Spread a long queue over the free slots so both the database and this process stay busy.
      const freeSlots = this.options.maxConcurrentBatches - this.inFlight;
      const size = Math.min(this.options.maxBatch, Math.max(minimumSplit, Math.ceil(this.queue.length / freeSlots)));
      const batch = this.queue.splice(0, size);
      this.inFlight += 1;
      void this.append(batch);
    }
  }

  private async append(batch: Waiting[]): Promise<void> {
    const started = performance.now();
    let settle: () => void;
    try {
      const { metrics } = this.options;
      const outcomes = await appendVoteBatch(
        this.db,
        batch.map((waiting) => waiting.command),
        {
          maxAttempts: this.options.maxAttempts ?? 5,
          idempotencyKeyTtlSeconds: this.options.idempotencyKeyTtlSeconds ?? defaultIdempotencyKeyTtlSeconds,
          onAppended: (kind, type) => metrics?.votesAppended.inc({ kind, type }),
        },
      );
      const durationMs = performance.now() - started;
      metrics?.batchSize.observe(batch.length);
      metrics?.batchSeconds.observe(durationMs / 1000);
      this.options.onBatchAppended?.({ size: batch.length, durationMs });
      settle = () =>
        outcomes.forEach((outcome, index) => {
          if (outcome.ok) batch[index]!.resolve(outcome.receipt);
          else batch[index]!.reject(outcome.error);
        });
    } catch (error) {
      settle = () => batch.forEach((waiting) => waiting.reject(error));
    }
    // Free the slot before answering, so callers that vote again find an idle appender.
    this.inFlight -= 1;
    settle();
    // Commands that queued up while every slot was busy have waited long enough.
    if (this.cancelScheduledFlush === undefined || this.queue.length >= this.options.maxBatch) this.startBatches();
    if (this.inFlight === 0 && this.queue.length === 0) this.drained?.();
  }
}
