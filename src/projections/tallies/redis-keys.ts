import type { PollKey, TallyKey } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';
import { partitionOf } from './partitions.js';

/**
 * The Redis layout: every key name, SCAN pattern and key-name parser lives here. Ids are
 * percent-encoded, so no id can contain the ":" separator or a "{" hash tag, and no two
 * different ids can produce the same key.
 *
 * Keys that one script touches share a hash tag, so on a Redis Cluster each script runs in one
 * slot: a poll's data keys carry `{<project>:<poll>}`, the projection's own keys `{<prefix>}`.
 *
 *   {<prefix>}:generation            the live generation's number
 *   {<prefix>}:leader-epoch[:<p>]    the projector leader's fence (of partition p > 0)
 *   {<prefix>}:<g>:partitions        how many partitions generation g is split into (absent: 1)
 *   {<prefix>}:<g>:checkpoint        generation g's checkpoint; with partitions, :checkpoint:<p> each
 *   {<prefix>}:rebuild, :rebuild:lock  a rebuild's progress and its lock
 *   <prefix>:<g>:{<project>:<poll>}:meta             the poll's checkpoint and the epoch that wrote it
 *   <prefix>:<g>:{<project>:<poll>}:tally|voters:<target>, …:rank:<order>
 *   <prefix>:tallies                 pub/sub channel of changed tallies
 *   <prefix>:ratelimit:<limit>:…     rate limit counters
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly generation: number,
    /** How many partitions the generation is split into: each has its own checkpoint. */
    readonly partitions = 1,
  ) {}

  static generationKey(prefix: string): string {
    return `${metaBase(prefix)}:generation`;
  }

  /**
   * The epoch of the partition's projector leader whose writes the read model takes; older leaders
   * are fenced off. Not tied to a generation: epochs only grow, whatever the partition count.
   */
  static leaderEpochKey(prefix: string, partition = 0): string {
    return partition === 0 ? `${metaBase(prefix)}:leader-epoch` : `${metaBase(prefix)}:leader-epoch:${partition}`;
  }

  /** How many partitions generation `generation` is split into; absent for one. */
  static partitionCountKey(prefix: string, generation: number): string {
    return `${metaBase(prefix)}:${generation}:partitions`;
  }

  /** A rebuild's lock: one rebuild at a time per prefix. */
  static rebuildLockKey(prefix: string): string {
    return `${metaBase(prefix)}:rebuild:lock`;
  }

  /** A rebuild's progress, read by the admin status. */
  static rebuildStateKey(prefix: string): string {
    return `${metaBase(prefix)}:rebuild`;
  }

  /** Where the rate limiter of `limit` keeps its counters (the library appends its own key). */
  static rateLimitPrefix(prefix: string, limit: string): string {
    return `${prefix}:ratelimit:${limit}`;
  }

  /** Pub/sub channel for changed tallies; not tied to a generation. */
  static channelOf(prefix: string): string {
    return `${prefix}:tallies`;
  }

  /** SCAN patterns of every key under `prefix` (and prefixes derived from it with ":" or "_"). */
  static everyKeyPatterns(prefix: string): string[] {
    return [`${prefix}[:_]*`, `{${prefix}[:_}]*`];
  }

  /** The keys of one poll, its ids encoded once for the many keys a batch names. */
  pollKeys(poll: PollKey): PollKeys {
    const base = this.pollBase(poll);
    return {
      meta: `${base}:meta`,
      tally: (target) => `${base}:tally:${encode(target)}`,
      voters: (target) => `${base}:voters:${encode(target)}`,
      rank: (order) => `${base}:rank:${order}`,
    };
  }

  /** The poll's checkpoint and the leader epoch that wrote it, beside its data in the poll's slot. */
  pollMeta(poll: PollKey): string {
    return `${this.pollBase(poll)}:meta`;
  }

  tally(key: TallyKey): string {
    return this.pollKeys(key).tally(key.target);
  }

  voters(key: TallyKey): string {
    return this.pollKeys(key).voters(key.target);
  }

  rank(poll: PollKey, order: RankOrder): string {
    return this.pollKeys(poll).rank(order);
  }

  /** A partition's checkpoint: every event of its polls up to here is applied. */
  checkpoint(partition = 0): string {
    const key = `${metaBase(this.prefix)}:${this.generation}:checkpoint`;
    return this.partitions === 1 ? key : `${key}:${partition}`;
  }

  /** The checkpoint of the partition `poll` belongs to. */
  checkpointOf(poll: PollKey): string {
    return this.checkpoint(partitionOf(poll, this.partitions));
  }

  /** Every partition's checkpoint, in partition order. */
  checkpoints(): string[] {
    return Array.from({ length: this.partitions }, (_, partition) => this.checkpoint(partition));
  }

  /** SCAN pattern of every poll key of this generation (the checkpoints are apart: checkpoints()). */
  everyPollKeyPattern(): string {
    return `${this.base()}:*`;
  }

  /** SCAN pattern of this generation's tally hashes; parseTallyKey reads their names back. */
  tallyPattern(): string {
    return `${this.base()}:{*}:tally:*`;
  }

  parseTallyKey(name: string): TallyKey | undefined {
    const match = /^\{([^:{}]*):([^:{}]*)\}:tally:([^:{}]*)$/.exec(name.slice(this.base().length + 1));
    if (!name.startsWith(`${this.base()}:`) || match === null) return undefined;
    const [projectId, poll, target] = match.slice(1).map(decodeURIComponent) as [string, string, string];
    return { projectId, poll, target };
  }

  private pollBase(poll: PollKey): string {
    return `${this.base()}:{${encode(poll.projectId)}:${encode(poll.poll)}}`;
  }

  private base(): string {
    return `${this.prefix}:${this.generation}`;
  }
}

export interface PollKeys {
  readonly meta: string;
  tally(target: string): string;
  voters(target: string): string;
  rank(order: RankOrder): string;
}

/** The projection's own keys share one hash tag, so the scripts that read several of them stay in one slot. */
const metaBase = (prefix: string) => `{${prefix}}`;

const encode = (id: string) => encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
