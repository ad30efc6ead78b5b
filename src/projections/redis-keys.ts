import type { RankOrder } from '../domain/ranking.js';
import type { PollKey, TallyKey } from './tally-key.js';

/**
 * Redis key names. Ids are percent-encoded, so no id can contain the ":" separator or a "{"
 * hash tag, and no two different ids can produce the same key.
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

  tally(key: TallyKey): string {
    return `${this.base()}:tally:${encode(key.projectId)}:${encode(key.poll)}:${encode(key.target)}`;
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

  private base(): string {
    return `${this.prefix}:${this.generation}`;
  }
}

const encode = (id: string) => encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
