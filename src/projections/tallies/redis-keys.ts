import type { PollKey, TallyKey } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';

/**
 * The Redis layout: every key name, SCAN pattern and key-name parser lives here. Ids are
 * percent-encoded, so no id can contain the ":" separator or a "{" hash tag, and no two
 * different ids can produce the same key.
 *
 *   <prefix>:generation              the live generation's number
 *   <prefix>:leader-epoch            the projector leader's fence
 *   <prefix>:tallies                 pub/sub channel of changed tallies
 *   <prefix>:rebuild, :rebuild:lock  a rebuild's progress and its lock
 *   <prefix>:ratelimit:<limit>:…     rate limit counters
 *   <prefix>:<g>:checkpoint          generation g's checkpoint
 *   <prefix>:<g>:tally|voters:<project>:<poll>:<target>, <prefix>:<g>:rank:<project>:<poll>:<order>
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly generation: number,
  ) {}

  static generationKey(prefix: string): string {
    return `${prefix}:generation`;
  }

  /** The epoch of the projector leader whose writes the read model takes; older leaders are fenced off. */
  static leaderEpochKey(prefix: string): string {
    return `${prefix}:leader-epoch`;
  }

  /** A rebuild's lock: one rebuild at a time per prefix. */
  static rebuildLockKey(prefix: string): string {
    return `${prefix}:rebuild:lock`;
  }

  /** A rebuild's progress, read by the admin status. */
  static rebuildStateKey(prefix: string): string {
    return `${prefix}:rebuild`;
  }

  /** Where the rate limiter of `limit` keeps its counters (the library appends its own key). */
  static rateLimitPrefix(prefix: string, limit: string): string {
    return `${prefix}:ratelimit:${limit}`;
  }

  tally(key: TallyKey): string {
    return `${this.tallyPrefix()}${encode(key.projectId)}:${encode(key.poll)}:${encode(key.target)}`;
  }

  voters(key: TallyKey): string {
    return `${this.base()}:voters:${encode(key.projectId)}:${encode(key.poll)}:${encode(key.target)}`;
  }

  rank(poll: PollKey, order: RankOrder): string {
    return `${this.base()}:rank:${encode(poll.projectId)}:${encode(poll.poll)}:${order}`;
  }

  checkpoint(): string {
    return `${this.base()}:checkpoint`;
  }

  /** Pub/sub channel for changed tallies; not tied to a generation. */
  static channelOf(prefix: string): string {
    return `${prefix}:tallies`;
  }

  /** SCAN pattern of every key of this generation. */
  everyKeyPattern(): string {
    return `${this.base()}:*`;
  }

  /** SCAN pattern of this generation's tally hashes; parseTallyKey reads their names back. */
  tallyPattern(): string {
    return `${this.tallyPrefix()}*`;
  }

  parseTallyKey(name: string): TallyKey | undefined {
    if (!name.startsWith(this.tallyPrefix())) return undefined;
    const ids = name.slice(this.tallyPrefix().length).split(':');
    if (ids.length !== 3) return undefined;
    const [projectId, poll, target] = ids.map(decodeURIComponent) as [string, string, string];
    return { projectId, poll, target };
  }

  private tallyPrefix(): string {
    return `${this.base()}:tally:`;
  }

  private base(): string {
    return `${this.prefix}:${this.generation}`;
  }
}

const encode = (id: string) => encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
