import { EventEmitter } from 'node:events';
import type { TallyKey } from '../../domain/identity-keys.js';
import type { Tally } from '../../domain/tally.js';
import type { Partition } from '../tallies/partitions.js';
import { connectDuplicate, type RedisClient } from '../../platform/redis.js';

/** A changed tally as the projector announces it; never says who voted. */
export interface TallyUpdate extends TallyKey {
  readonly tally: Tally;
  readonly position: string;
}

/**
 * One applied batch as the projector announces it: the projection's checkpoint after it (so
 * readers waiting for a position wake without asking Redis) and the tallies it changed (none when
 * the projector, far behind, holds them back to announce only the latest of each).
 */
export interface FeedMessage {
  /** The checkpoint of the partition that sent it (the whole log's without partitions). */
  readonly checkpoint: string;
  readonly updates: readonly TallyUpdate[];
  /** Which partition's projector sent it; absent: the whole log's. */
  readonly partition?: Partition;
}

export type TallyListener = (message: FeedMessage) => void;

/** Where the projector announces changed tallies, so every API replica can push them to clients. */
export interface TallyFeed {
  publish(message: FeedMessage): Promise<void>;
  subscribe(listener: TallyListener): Promise<() => Promise<void>>;
}

export class InProcessTallyFeed implements TallyFeed {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(message: FeedMessage): Promise<void> {
    this.emitter.emit('updates', message);
  }

  async subscribe(listener: TallyListener): Promise<() => Promise<void>> {
    this.emitter.on('updates', listener);
    return async () => void this.emitter.off('updates', listener);
  }
}

/** Redis pub/sub: one message per applied batch on the prefix's channel. */
export class RedisTallyFeed implements TallyFeed {
  constructor(
    private readonly redis: RedisClient,
    private readonly channel: string,
  ) {}

  async publish(message: FeedMessage): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(message));
  }

  async subscribe(listener: TallyListener): Promise<() => Promise<void>> {
    const subscriber = await connectDuplicate(this.redis);
    await subscriber.subscribe(this.channel, (message) => listener(JSON.parse(message) as FeedMessage));
    return async () => {
      await subscriber.unsubscribe(this.channel);
      subscriber.destroy();
    };
  }
}
