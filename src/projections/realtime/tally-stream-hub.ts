import { type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { FeedMessage, TallyFeed, TallyListener, TallyUpdate } from './tally-feed.js';

export type TallyWatcher = (update: TallyUpdate) => void;

/**
 * One subscription to the tally feed per process, fanned out to every realtime client watching a
 * target. Clients come and go without touching Redis.
 */
export class TallyStreamHub {
  private readonly watchers = new Map<string, Set<TallyWatcher>>();
  private readonly followers = new Set<TallyListener>();
  private unsubscribe: Promise<() => Promise<void>> | undefined;

  constructor(private readonly feed: TallyFeed) {}

  /** Calls `watcher` for every change of these tallies until the returned function is called. */
  async watch(keys: readonly TallyKey[], watcher: TallyWatcher): Promise<() => void> {
    await this.subscribe();
    const ids = keys.map(tallyIdOf);
    for (const id of ids) {
      if (!this.watchers.has(id)) this.watchers.set(id, new Set());
      this.watchers.get(id)!.add(watcher);
    }
    return () => {
      for (const id of ids) {
        const set = this.watchers.get(id);
        set?.delete(watcher);
        if (set?.size === 0) this.watchers.delete(id);
      }
    };
  }

  /** Calls `listener` with every batch the projector announces, from when this resolves. */
  async follow(listener: TallyListener): Promise<() => void> {
    await this.subscribe();
    this.followers.add(listener);
    return () => this.followers.delete(listener);
  }

  get watched(): number {
    return this.watchers.size;
  }

  async close(): Promise<void> {
    if (this.unsubscribe !== undefined) await (await this.unsubscribe)();
    this.watchers.clear();
    this.followers.clear();
  }

  private subscribe(): Promise<unknown> {
    this.unsubscribe ??= this.feed.subscribe((message) => this.dispatch(message));
    return this.unsubscribe;
  }

  private dispatch(message: FeedMessage): void {
    for (const follower of this.followers) follower(message);
    for (const update of message.updates) {
      const set = this.watchers.get(tallyIdOf(update));
      if (set !== undefined) for (const watcher of set) watcher(update);
    }
  }
}
