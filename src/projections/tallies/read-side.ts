import type { Logger } from 'pino';
import { connectRedis, type RedisClient, type RedisTarget } from '../../platform/redis.js';
import { MemoryTallyStore } from './memory-tally-store.js';
import { RedisKeys } from './redis-keys.js';
import { RedisTallyStore } from './redis-tally-store.js';
import { InProcessTallyFeed, RedisTallyFeed, type TallyFeed } from '../realtime/tally-feed.js';
import type { TallyStore } from './tally-store.js';

export interface ReadSide {
  readonly store: TallyStore;
  readonly feed: TallyFeed;
  /** The Redis connection behind the store; undefined for the in-process read model. */
  readonly redis: RedisClient | undefined;
  /** True when the read model lives in this process and must be rebuilt from the log at start. */
  readonly inProcess: boolean;
  close(): Promise<void>;
}

/** Redis (one, or a cluster) when configured; otherwise an in-process read model for a single process. */
export async function openReadSide(redisTarget: RedisTarget | undefined, keyPrefix: string, logger: Logger, options: { replicasToAcknowledge?: number; partitions?: number } = {}): Promise<ReadSide> {
  if (redisTarget === undefined) {
    return { store: new MemoryTallyStore(), feed: new InProcessTallyFeed(), redis: undefined, inProcess: true, close: async () => {} };
  }
  const redis = await connectRedis(redisTarget, (error) => logger.warn({ err: error }, 'redis connection problem'));
  return {
    store: await RedisTallyStore.open(redis, keyPrefix, options),
    feed: new RedisTallyFeed(redis, RedisKeys.channelOf(keyPrefix)),
    redis,
    inProcess: false,
    close: async () => {
      await redis.quit().catch(() => redis.destroy());
    },
  };
}
