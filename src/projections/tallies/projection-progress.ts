import { ClickvoteError } from '../../domain/errors.js';
import { comparePositions, type LogPosition, parsePosition } from '../../domain/position.js';
import type { FeedMessage, TallyListener } from '../realtime/tally-feed.js';
import { earliestCheckpoint, wholeLog } from './partitions.js';

export interface ProgressOptions {
  /** Readers waiting for a position at once; beyond it a 503. */
  readonly maxWaiters: number;
  /** The shared checkpoint read while anyone waits, for a feed message that got lost; 1000 ms unless set. */
  readonly pollMs?: number;
}

interface Waiter {
  readonly wanted: LogPosition;
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * How far the projector has got, as this process knows it, and the readers waiting for it to pass
 * a position (`minPosition`). Every applied batch arrives on the tally feed with the projection's
 * checkpoint, so the projector's progress wakes any number of readers at no Redis call; the
 * checkpoint is read once at the start and, while anyone waits, once per `pollMs` by the whole
 * process, only in case pub/sub dropped a message while the projector then went idle.
 *
 * With partitions, each partition's projector announces its own checkpoint: the read model stands
 * at the earliest of them, so a waiter wakes once every partition has passed its position.
 */
export class ProjectionProgress {
  private known: LogPosition | undefined;
  /** Each partition's announced checkpoint, by index; `known` is the earliest once all have one. */
  private byPartition: (LogPosition | undefined)[] = [];
  private readonly waiters = new Set<Waiter>();
  private following: Promise<unknown> | undefined;
  private reading: Promise<void> | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly readCheckpoint: () => Promise<string | undefined>,
    private readonly follow: (listener: TallyListener) => Promise<unknown>,
    private readonly options: ProgressOptions,
  ) {}

  /** Resolves once the read model has applied `token` (a vote's position); 503 after `waitMs`. */
  async waitFor(token: string, waitMs: number): Promise<void> {
    const wanted = parsePosition(token)!;
    this.following ??= this.follow((message) => this.advance(message)).then(
      () => this.read(),
      (error: unknown) => {
        this.following = undefined;
        throw error;
      },
    );
    await this.following;
    if (this.reached(wanted)) return;
    if (this.waiters.size >= this.options.maxWaiters) {
      throw new ClickvoteError('over_capacity', 'Too many readers are waiting for the tallies to catch up; try again shortly.');
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wanted,
        resolve,
        timer: setTimeout(() => {
          this.remove(waiter);
          reject(new ClickvoteError('projection_behind', `The tallies have not reached position ${token} within ${waitMs} ms; try again.`));
        }, waitMs),
      };
      this.waiters.add(waiter);
      this.poll ??= setInterval(() => void this.read(), this.options.pollMs ?? 1000);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }

  private advance({ checkpoint, partition = wholeLog }: FeedMessage): void {
    const position = parsePosition(checkpoint);
    if (position === undefined) return;
    if (this.byPartition.length !== partition.count) this.byPartition = Array.from({ length: partition.count }, () => this.known);
    const before = this.byPartition[partition.index];
    if (before === undefined || comparePositions(position, before) > 0) this.byPartition[partition.index] = position;
    const earliest = earliestCheckpoint(this.byPartition, comparePositions);
    if (earliest !== undefined && !this.reached(earliest)) this.known = earliest;
    this.settle();
  }

  private settle(): void {
    for (const waiter of this.waiters) {
      if (this.reached(waiter.wanted)) {
        this.remove(waiter);
        waiter.resolve();
      }
    }
  }

  /** One checkpoint read at a time, however many ask for one. */
  private read(): Promise<void> {
    // The store has the last word: after its data was lost, the checkpoint may have gone back.
    this.reading ??= this.readCheckpoint()
      .then((checkpoint) => {
        this.known = checkpoint === undefined ? undefined : parsePosition(checkpoint);
        this.byPartition = this.byPartition.map(() => this.known);
        this.settle();
      })
      .catch(() => {})
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  private reached(wanted: LogPosition): boolean {
    return this.known !== undefined && comparePositions(this.known, wanted) >= 0;
  }

  private remove(waiter: Waiter): void {
    this.waiters.delete(waiter);
    clearTimeout(waiter.timer);
    if (this.waiters.size === 0 && this.poll !== undefined) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
  }
}
