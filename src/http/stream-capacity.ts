import pLimit from 'p-limit';
import { ClickvoteError } from '../domain/errors.js';

export interface StreamLimits {
  /** Open streams in this process. */
  readonly maxStreams: number;
  readonly maxStreamsPerClient: number;
  readonly maxStreamsPerKey: number;
  /** Targets subscribed by all streams of this process together. */
  readonly maxTargets: number;
}

/**
 * Bounds what realtime clients can hold in one process: a stream costs a socket, buffers and a
 * watcher per target, so without a ceiling one client with a public key can exhaust the heap.
 * One client or one key over its share gets a 429; a full process a 503.
 */
export class StreamCapacity {
  private streams = 0;
  private targets = 0;
  private readonly perClient = new Map<string, number>();
  private readonly perKey = new Map<string, number>();
  /**
   * Streams that read their first tallies at once. A burst of openings would otherwise hold
   * thousands of Redis replies in the heap together, far more than the open streams themselves.
   */
  readonly opening = pLimit(4);

  constructor(private readonly limits: StreamLimits) {}

  /** Takes room for one stream or throws; the returned function gives it back (once). */
  admit(client: string, key: string, targets: number): () => void {
    if ((this.perClient.get(client) ?? 0) >= this.limits.maxStreamsPerClient) {
      throw new ClickvoteError('too_many_streams', `One client may keep ${this.limits.maxStreamsPerClient} streams open; close one first.`);
    }
    if ((this.perKey.get(key) ?? 0) >= this.limits.maxStreamsPerKey) {
      throw new ClickvoteError('too_many_streams', `One key may keep ${this.limits.maxStreamsPerKey} streams open on this server; close one first.`);
    }
    if (this.streams >= this.limits.maxStreams || this.targets + targets > this.limits.maxTargets) {
      throw new ClickvoteError('over_capacity', 'This server holds as many realtime streams as it can; try again shortly or another server.');
    }
    this.streams += 1;
    this.targets += targets;
    increment(this.perClient, client, 1);
    increment(this.perKey, key, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.streams -= 1;
      this.targets -= targets;
      increment(this.perClient, client, -1);
      increment(this.perKey, key, -1);
    };
  }

  get open(): { streams: number; targets: number } {
    return { streams: this.streams, targets: this.targets };
  }
}

function increment(counts: Map<string, number>, name: string, by: number): void {
  const count = (counts.get(name) ?? 0) + by;
  if (count === 0) counts.delete(name);
  else counts.set(name, count);
}
