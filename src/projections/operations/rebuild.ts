import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../platform/database.js';
import { type RedisClient, unlinkMatching, waitForReplicas } from '../../platform/redis.js';
import { formatPosition } from '../../domain/position.js';
import { Projector } from '../tallies/projector.js';
import { partitionsOf } from '../tallies/partitions.js';
import { RedisKeys } from '../tallies/redis-keys.js';
import { generationKeys, liveGeneration, RedisTallyStore } from '../tallies/redis-tally-store.js';
import { loadGenerationInBulk } from './bulk-load.js';

export interface RebuildProgress {
  readonly status: 'rebuilding' | 'flipped';
  readonly generation: number;
  readonly startedAt: string;
  readonly eventsDone: number;
  readonly eventsTotal: number;
  readonly eventsPerSecond: number;
  readonly etaSeconds: number | null;
}

export interface RebuildOptions {
  readonly db: Kysely<Database>;
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly logger: Logger;
  readonly batchSize: number;
  /** Targets (each with all its ballots) fetched per round trip while the new generation is loaded in bulk. */
  readonly targetsPerFetch?: number;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** How long readers get to move to the new generation before the old one is unlinked. */
  readonly unlinkAfterMs?: number;
  /**
   * How many partitions the new generation is split into; the live generation's count unless
   * given. Projectors of another count refuse the new generation once it is live.
   */
  readonly partitions?: number;
  /**
   * Replicas of each master that must hold the new generation's writes before its checkpoints
   * move (REDIS_REPLICAS_TO_ACKNOWLEDGE): the bulk load before it is marked whole, each catch-up
   * batch before its checkpoint. 0 unless given.
   */
  readonly replicasToAcknowledge?: number;
}

export interface RebuildResult extends RebuildProgress {
  /** Resolves with the number of keys removed once the old generation is gone. */
  readonly oldGenerationUnlinked: Promise<number>;
}

export class RebuildInProgressError extends Error {
  override readonly name = 'RebuildInProgressError';
}

const lockTtlMs = 30_000;
const defaultTargetsPerFetch = 1000;
const replicaWaitMs = 5000;

/**
 * Blue/green rebuild: loads the log into generation g+1 in bulk while g keeps answering (each
 * ballot's latest event, up to a commit-safe checkpoint), catches up with the head through the
 * projector, flips the live generation, then unlinks g's keys. Writes to g+1 are refused once g is
 * no longer live, and writes to g once g+1 is: nothing writes g after the flip, so nothing of it is
 * left behind the unlink. g+1 has a checkpoint only once its bulk load is whole. A rebuild that
 * died after that resumes its generation where it stopped: each poll there holds its own
 * checkpoint, like a restarted projector's. One that died during the bulk load unlinks what it
 * wrote and loads again from scratch: a half-written load says nothing of where it stopped.
 */
export async function rebuildTallies(options: RebuildOptions): Promise<RebuildResult> {
  return (await beginRebuild(options)).finished;
}

/** Takes the rebuild lock (only one rebuild at a time, across every process) and starts replaying. */
export async function beginRebuild(options: RebuildOptions): Promise<{ finished: Promise<RebuildResult> }> {
  const { redis, prefix } = options;
  const keys = rebuildKeys(prefix);
  const token = randomUUID();
  if ((await redis.set(keys.lock, token, { condition: 'NX', expiration: { type: 'PX', value: lockTtlMs } })) === null) {
    throw new RebuildInProgressError('A rebuild is already running.');
  }
  const renew = setInterval(() => void redis.pExpire(keys.lock, lockTtlMs).catch(() => {}), lockTtlMs / 3);
  const finished = (async () => {
    try {
      return await rebuildHoldingLock(options, { ...keys, token });
    } finally {
      clearInterval(renew);
      if ((await redis.get(keys.lock)) === token) await redis.del(keys.lock);
    }
  })();
  return { finished };
}

async function rebuildHoldingLock(options: RebuildOptions, keys: ReturnType<typeof rebuildKeys> & { token: string }): Promise<RebuildResult> {
  const { db, redis, prefix, logger } = options;
  const live = await liveGeneration(redis, prefix, { partitions: options.partitions ?? 1 });
  const resumed = Number((await redis.hGet(keys.state, 'generation')) ?? 0);
  const generation = resumed > live ? resumed : live + 1;
  const startedAt = new Date().toISOString();
  const eventsTotal = await countEvents(db);
  let eventsDone = 0;
  const began = performance.now();
  const progress = (status: RebuildProgress['status']): RebuildProgress => {
    const seconds = (performance.now() - began) / 1000;
    const eventsPerSecond = seconds > 0 ? eventsDone / seconds : 0;
    const left = Math.max(0, eventsTotal - eventsDone);
    return { status, generation, startedAt, eventsDone, eventsTotal, eventsPerSecond, etaSeconds: eventsPerSecond > 0 ? left / eventsPerSecond : null };
  };
  const report = (status: RebuildProgress['status']) => {
    const now = progress(status);
    options.onProgress?.(now);
    void redis.hSet(keys.state, { ...now, etaSeconds: String(now.etaSeconds ?? ''), status }).catch(() => {});
  };
  await redis.hSet(keys.state, { generation: String(generation), status: 'rebuilding', startedAt });
  logger.info({ live, generation, resumed: resumed > live }, 'tally rebuild started');

  let newKeys = await generationKeys(redis, prefix, generation);
  if ((await RedisTallyStore.forRebuild(redis, prefix, generation, live, newKeys.partitions).readCheckpoint()) === undefined) {
    const partitions = options.partitions ?? (await generationKeys(redis, prefix, live)).partitions;
    newKeys = new RedisKeys(prefix, generation, partitions);
    await loadInBulk(options, keys, newKeys, resumed > live, (events) => {
      eventsDone += events;
      report('rebuilding');
    });
  }
  const store = RedisTallyStore.forRebuild(redis, prefix, generation, live, newKeys.partitions, options.replicasToAcknowledge);
  // Each partition catches up from the bulk load's checkpoint; every one reads the whole log, so progress counts the first's.
  const catchingUp = partitionsOf(newKeys.partitions).map((partition) =>
    new Projector({
      db,
      store,
      logger,
      partition,
      batchSize: options.batchSize,
      pollIntervalMs: 1000,
      tallyCacheSize: Math.floor(200_000 / partition.count),
      onBatchApplied:
        partition.index === 0
          ? (events) => {
              eventsDone += events;
              report('rebuilding');
            }
          : undefined,
    }).catchUp(),
  );
  await Promise.all(catchingUp);
  await flipGeneration(redis, prefix, live, generation);
  // The live projector owns the new generation from here: it follows the flip and carries on from
  // this rebuild's checkpoint. This rebuild writes nothing more (a write would be refused: `live` is not).
  report('flipped');
  await redis.del(keys.state);
  logger.info({ from: live, to: generation, events: eventsDone }, 'tally rebuild flipped the live generation');
  // Readers look up the live generation every 250 ms; give them well over that to move.
  const grace = Math.max(options.unlinkAfterMs ?? 5000, 1000);
  const oldGenerationUnlinked = new Promise<void>((resolve) => setTimeout(resolve, grace).unref()).then(() =>
    unlinkGeneration(redis, prefix, live, logger),
  );
  oldGenerationUnlinked.catch((error: unknown) => logger.error({ err: error }, 'unlinking the old generation failed'));
  return { ...progress('flipped'), oldGenerationUnlinked };
}

/**
 * Loads a generation that has no checkpoint yet in bulk, then writes its partition count and
 * every partition's checkpoint: the mark of a whole load, written only while this rebuild still
 * holds the lock. What a load that died left (`unfinished`) is unlinked first: rewriting its keys
 * would leave voters, buckets and rank members that changed since.
 */
async function loadInBulk(options: RebuildOptions, lock: { lock: string; token: string }, keys: RedisKeys, unfinished: boolean, onEvents: (events: number) => void): Promise<void> {
  const { db, redis, logger } = options;
  if (unfinished) await unlinkGeneration(redis, keys.prefix, keys.generation, logger);
  const loaded = await loadGenerationInBulk({ db, redis, keys, targetsPerFetch: options.targetsPerFetch ?? defaultTargetsPerFetch, onEvents });
  const replicas = options.replicasToAcknowledge ?? 0;
  if (replicas > 0 && !(await waitForReplicas(redis, 'every master', replicas, replicaWaitMs))) {
    // Marked whole now, a failover could lose part of the load for good: the next try loads it again.
    throw new Error(`Fewer than ${replicas} replicas of each Redis master acknowledged the bulk load within ${replicaWaitMs} ms; run the rebuild again`);
  }
  // An empty log leaves no checkpoint: the projectors start from its first event. The count stands either way.
  const checkpoint = loaded === undefined ? '' : formatPosition(loaded);
  const marked = await redis.eval(
    `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
     if ARGV[3] ~= '1' then redis.call('SET', KEYS[2], ARGV[3]) end
     if ARGV[2] ~= '' then for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[2]) end end
     return 1`,
    {
      keys: [lock.lock, RedisKeys.partitionCountKey(keys.prefix, keys.generation), ...keys.checkpoints()],
      arguments: [lock.token, checkpoint, String(keys.partitions)],
    },
  );
  if (marked !== 1) throw new RebuildInProgressError('Another rebuild took the lock during the bulk load');
  logger.info({ generation: keys.generation, checkpoint, partitions: keys.partitions }, 'tally rebuild loaded the log in bulk');
}

/** Flips only if the live generation is still the one this rebuild started from. */
async function flipGeneration(redis: RedisClient, prefix: string, from: number, to: number): Promise<void> {
  const flipped = await redis.eval(
    `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`,
    { keys: [RedisKeys.generationKey(prefix)], arguments: [String(from), String(to)] },
  );
  if (flipped !== 1) throw new Error(`The live generation moved away from ${from} during the rebuild`);
}

/** SCAN and UNLINK, never KEYS: Redis keeps answering while an old generation goes. */
export async function unlinkGeneration(redis: RedisClient, prefix: string, generation: number, logger?: Logger): Promise<number> {
  const keys = await generationKeys(redis, prefix, generation);
  const removed = (await unlinkMatching(redis, keys.everyPollKeyPattern())) + (await redis.unlink([...keys.checkpoints(), RedisKeys.partitionCountKey(prefix, generation)]));
  logger?.info({ generation, keys: removed }, 'old tally generation unlinked');
  return removed;
}

export async function readRebuildProgress(redis: RedisClient, prefix: string): Promise<RebuildProgress | undefined> {
  const state = await redis.hGetAll(rebuildKeys(prefix).state);
  if (state.generation === undefined || (await redis.exists(rebuildKeys(prefix).lock)) === 0) return undefined;
  return {
    status: 'rebuilding',
    generation: Number(state.generation),
    startedAt: state.startedAt ?? '',
    eventsDone: Number(state.eventsDone ?? 0),
    eventsTotal: Number(state.eventsTotal ?? 0),
    eventsPerSecond: Number(state.eventsPerSecond ?? 0),
    etaSeconds: state.etaSeconds === undefined || state.etaSeconds === '' ? null : Number(state.etaSeconds),
  };
}

function rebuildKeys(prefix: string) {
  return { lock: RedisKeys.rebuildLockKey(prefix), state: RedisKeys.rebuildStateKey(prefix) };
}

async function countEvents(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from vote_events`.execute(db);
  return Number(rows[0]!.n);
}
