import type { TallyUpdate } from './tally-feed.js';

/**
 * At most one update per target in each window: a burst of votes on a target becomes its last
 * tally, sent once the window since the previous one has passed.
 */
export class TallyCoalescer {
  private readonly pending = new Map<string, TallyUpdate>();
  private readonly lastSent = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly windowMs: number,
    private readonly send: (update: TallyUpdate) => void,
  ) {}

  offer(update: TallyUpdate): void {
    this.pending.set(update.target, update);
    if (this.timers.has(update.target)) return;
    const wait = Math.max(0, (this.lastSent.get(update.target) ?? 0) + this.windowMs - Date.now());
    this.timers.set(update.target, setTimeout(() => this.flush(update.target), wait));
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private flush(target: string): void {
    this.timers.delete(target);
    const update = this.pending.get(target);
    if (update === undefined) return;
    this.pending.delete(target);
    this.lastSent.set(target, Date.now());
    this.send(update);
  }
}
