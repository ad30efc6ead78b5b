export const notCached = Symbol('notCached');

/**
 * Answers remembered for a while. Bounded: when full it starts over, so ids made up by a client
 * (unknown keys, polls that do not exist) cannot grow it without end.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The remembered answer, or `notCached` when there is none or it has expired. */
  peek(key: string): V | typeof notCached {
    const cached = this.entries.get(key);
    return cached !== undefined && cached.until > Date.now() ? cached.value : notCached;
  }

  async getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.entries.get(key);
    if (cached !== undefined && cached.until > Date.now()) return cached.value;
    const value = await load();
    if (this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, { value, until: Date.now() + this.ttlMs });
    }
    return value;
  }

  /** Forgets every answer: the next lookups load afresh. */
  clear(): void {
    this.entries.clear();
  }
}
