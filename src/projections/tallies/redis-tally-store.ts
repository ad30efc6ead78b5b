import { type PollKey, pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import { comparePositions, parsePosition } from '../../domain/position.js';
import type { RankOrder } from '../../domain/ranking.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import { type RedisClient, waitForReplicas } from '../../platform/redis.js';
import { earliestCheckpoint } from './partitions.js';
import { RedisKeys } from './redis-keys.js';
import { readPoll } from './redis-poll-reads.js';
import { applyPollScript, packPollChange } from './redis-poll-scripts.js';
import { checkFenceScript, claimWriterScript, type FenceCall, moveCheckpointScript, packFence, packMoveCheckpoint } from './redis-tally-scripts.js';
import { type PollChange, type StoredTallies, uniquePollKeys } from './tally-projection.js';
import { type CheckpointMove, type RankedTally, type TallyReading, type TallyStore, type WithCheckpoint, type WriteRefusal, WriteRefusedError } from './tally-store.js';

const replicaWaitMs = 1000;

export class RedisTallyStore implements TallyStore {
  /** The epoch this process's leader of each partition claimed. */
  private readonly leaderEpochs = new Map<number, number>();
  /** The generation readers last found live; every read checks it still is. */
  private readingKeys: RedisKeys;

  /** `replacing`: a rebuild writes its own generation, and only while this one stays live. */
  private constructor(
    private readonly redis: RedisClient,
    private keys: RedisKeys,
    private readonly replacing?: number,
    private readonly replicasToAcknowledge = 0,
  ) {
    this.readingKeys = keys;
  }

  /**
   * The store for the live generation, creating generation 1 (split into `partitions`, 1 unless
   * given) on a fresh Redis. With `replicasToAcknowledge`, a batch's checkpoint moves only once
   * that many replicas of each master hold its poll writes.
   */
  static async open(redis: RedisClient, prefix: string, options: { replicasToAcknowledge?: number; partitions?: number } = {}): Promise<RedisTallyStore> {
    const live = await liveGeneration(redis, prefix, { partitions: options.partitions ?? 1 });
    return new RedisTallyStore(redis, await generationKeys(redis, prefix, live), undefined, options.replicasToAcknowledge);
  }

  /** A rebuild's store: writes `generation` whatever is live, refused once `replacing` is no longer live. */
  static forRebuild(redis: RedisClient, prefix: string, generation: number, replacing: number, partitions = 1, replicasToAcknowledge = 0): RedisTallyStore {
    return new RedisTallyStore(redis, new RedisKeys(prefix, generation, partitions), replacing, replicasToAcknowledge);
  }

  get generation(): number {
    return this.keys.generation;
  }

  get partitions(): number {
    return this.keys.partitions;
  }

  async followLiveGeneration(): Promise<boolean> {
    if (this.replacing !== undefined) return false;
    const live = await liveGeneration(this.redis, this.keys.prefix);
    if (live === this.keys.generation) return false;
    this.keys = await generationKeys(this.redis, this.keys.prefix, live);
    return true;
  }

  async claimWriter(epoch: number, partition = 0): Promise<number> {
    const held = Number(await claimWriterScript.run(this.redis, [RedisKeys.leaderEpochKey(this.keys.prefix, partition)], [String(epoch)]));
    if (held === epoch) this.leaderEpochs.set(partition, epoch);
    return held;
  }

  async loadTallies(keys: readonly TallyKey[]): Promise<StoredTallies> {
    const tallies = new Map<string, Tally>();
    const checkpoints = new Map<string, string>();
    const polls = uniquePollKeys(keys);
    const readings = await Promise.all(
      polls.map((poll) => {
        const targets = keys.filter((key) => pollIdOf(key) === pollIdOf(poll)).map((key) => key.target);
        return readPoll(this.redis, this.keys, poll, targets).then((reading) => ({ poll, targets, reading }));
      }),
    );
    for (const { poll, targets, reading } of readings) {
      if (reading.checkpoint !== undefined) checkpoints.set(pollIdOf(poll), reading.checkpoint);
      targets.forEach((target, index) => {
        const tally = reading.tallies[index];
        if (tally !== undefined) tallies.set(tallyIdOf({ ...poll, target }), tally);
      });
    }
    return { tallies, checkpoints };
  }

  /**
   * The fence first (nothing is written unless the store is still where this writer left it),
   * then every poll's change at once, each behind its own guard, then the checkpoint behind the
   * fence again. A writer fenced off in between writes this one batch at most: the polls' guards
   * keep the counts exact.
   */
  async applyChanges(changes: readonly PollChange[], move: CheckpointMove): Promise<void> {
    const partition = move.partition ?? 0;
    const fence = this.fence(move.from, partition);
    const check = packFence(fence);
    const open = String(await checkFenceScript.run(this.redis, check.keys, check.args));
    if (open !== 'open') throw this.refusal(open as WriteRefusal, move.from, partition);
    await this.applyPolls(changes, move.from, partition);
    await this.awaitReplicas(move.polls ?? changes.map((change) => change.poll));
    const call = packMoveCheckpoint(fence, move.to);
    const outcome = String(await moveCheckpointScript.run(this.redis, call.keys, call.args));
    if (outcome !== 'moved') throw this.refusal(outcome as WriteRefusal, move.from, partition);
  }

  /** Each poll's change is atomic; every poll's is sent at once, in one pipeline. */
  async applyPolls(changes: readonly PollChange[], from: string | undefined, partition = 0): Promise<void> {
    const epoch = this.leaderEpochs.get(partition) ?? 0;
    const outcomes = await Promise.all(
      changes.map((change) => {
        const call = packPollChange(this.keys, change, epoch);
        return applyPollScript.run(this.redis, call.keys, call.args).then(String);
      }),
    );
    const refused = outcomes.findIndex((outcome) => outcome !== 'applied');
    if (refused === -1) return;
    const poll = changes[refused]!.poll;
    throw this.refusal(outcomes[refused] as WriteRefusal, from, partition, this.keys.pollMeta(poll));
  }

  /**
   * Replication is asynchronous: a master that dies before its replica has a poll's write loses
   * it at the failover, while the checkpoint (on another master) would have moved past it for good.
   * Waiting first, a lost write is newer than the checkpoint and is folded again. Every poll of the
   * batch is waited for, not only those it changes: a poll written by an earlier try of the batch
   * (whose wait failed) is skipped by the retry, and its write may still be on the master alone.
   */
  private async awaitReplicas(polls: readonly PollKey[]): Promise<void> {
    if (this.replicasToAcknowledge === 0 || polls.length === 0) return;
    const pollKeys = polls.map((poll) => this.keys.pollMeta(poll));
    if (!(await waitForReplicas(this.redis, pollKeys, this.replicasToAcknowledge, replicaWaitMs))) {
      throw new Error(`Fewer than ${this.replicasToAcknowledge} replicas acknowledged the batch's writes within ${replicaWaitMs} ms; the checkpoint stays`);
    }
  }

  async readCheckpoint(partition?: number): Promise<string | undefined> {
    return this.readLive(async (keys) => {
      const names = partition === undefined ? keys.checkpoints() : [keys.checkpoint(partition)];
      const [live, ...checkpoints] = await Promise.all([this.readPointer(keys), ...names.map((name) => this.redis.get(name))]);
      return { value: earliestCheckpoint(checkpoints.map((checkpoint) => checkpoint ?? undefined), compareTokens), live };
    });
  }

  async readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]> {
    return (await this.readTalliesWithCheckpoint(poll, targets, voter)).value;
  }

  async readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]> {
    return (await this.readTopWithCheckpoint(poll, order, limit)).value;
  }

  async readTalliesWithCheckpoint(poll: PollKey, targets: readonly string[], voter?: string): Promise<WithCheckpoint<TallyReading[]>> {
    return this.readLive((keys) => this.readTalliesIn(keys, poll, targets, voter));
  }

  async readTopWithCheckpoint(poll: PollKey, order: RankOrder, limit: number): Promise<WithCheckpoint<RankedTally[]>> {
    return this.readLive(async (keys) => {
      const targets = await this.redis.zRange(keys.rank(poll, order), 0, limit - 1, { REV: true });
      const { value, live } = await this.readTalliesIn(keys, poll, targets);
      return { value: { checkpoint: value.checkpoint, value: targets.map((target, index) => ({ target, tally: value.value[index]!.tally })) }, live };
    });
  }

  /**
   * Runs `read` in the generation readers last found live. Each read ends with the live
   * generation pointer, sent after its data on the same connection: generations only move
   * forward, so if the pointer still names the generation read, it was live all along and the
   * data is whole, never a generation a rebuild has replaced and unlinked. Otherwise it reads
   * again in the new one. A rebuild reads the generation it writes.
   */
  private async readLive<T>(read: (keys: RedisKeys) => Promise<{ value: T; live: number }>): Promise<T> {
    if (this.replacing !== undefined) return (await read(this.keys)).value;
    for (;;) {
      const keys = this.readingKeys;
      const { value, live } = await read(keys);
      if (live === keys.generation) return value;
      this.readingKeys = await generationKeys(this.redis, keys.prefix, live);
    }
  }

  private readPointer(keys: RedisKeys): Promise<number> {
    return this.redis.get(RedisKeys.generationKey(keys.prefix)).then((live) => Number(live ?? 1));
  }

  /**
   * One round trip: the poll's partition's checkpoint, the poll's tallies (and the voter's values) with the poll's
   * own checkpoint in one script, then the live pointer. The answer stands at the later of the
   * two checkpoints: the projection's is read first and moves only after every poll's write.
   */
  private async readTalliesIn(keys: RedisKeys, poll: PollKey, targets: readonly string[], voter?: string) {
    const [checkpoint, reading, live] = await Promise.all([this.redis.get(keys.checkpointOf(poll)), readPoll(this.redis, keys, poll, targets, voter), this.readPointer(keys)]);
    const readings: TallyReading[] = reading.tallies.map((tally = emptyTally, index) =>
      reading.voterValues === undefined ? { tally } : { tally, voterValue: reading.voterValues[index]! },
    );
    return { value: { checkpoint: laterOf(checkpoint ?? undefined, reading.checkpoint), value: readings }, live };
  }

  private fence(from: string | undefined, partition: number): FenceCall {
    const { prefix } = this.keys;
    const epoch = this.leaderEpochs.get(partition);
    return {
      keys: { generation: RedisKeys.generationKey(prefix), checkpoint: this.keys.checkpoint(partition), leaderEpoch: RedisKeys.leaderEpochKey(prefix, partition) },
      args: { liveGeneration: String(this.replacing ?? this.keys.generation), fromCheckpoint: from ?? '', leaderEpoch: epoch === undefined ? '' : String(epoch) },
    };
  }

  private refusal(reason: WriteRefusal, from: string | undefined, partition: number, where = `Generation ${this.keys.generation}`): WriteRefusedError {
    const of = this.keys.partitions === 1 ? '' : ` (partition ${partition} of ${this.keys.partitions})`;
    const messages: Record<WriteRefusal, string> = {
      'poll-moved': `${where} is no longer at the checkpoint the projector folded from: Redis lost data, or another writer moved it`,
      'checkpoint-moved': `Generation ${this.keys.generation}${of} is no longer at checkpoint ${from ?? '(none)'}: Redis lost data, or another writer moved it`,
      'generation-moved': `Generation ${this.replacing ?? this.keys.generation} is no longer the live one: a rebuild flipped it`,
      deposed: `A newer projector leader than epoch ${this.leaderEpochs.get(partition)} writes ${where}${of}`,
    };
    return new WriteRefusedError(reason, messages[reason]);
  }
}

/**
 * The generation readers use: 1 on a fresh Redis. With `create`, a fresh Redis gets generation 1
 * written down, split into `create.partitions`, in one step.
 */
export async function liveGeneration(redis: RedisClient, prefix: string, create?: { partitions: number }): Promise<number> {
  const key = RedisKeys.generationKey(prefix);
  if (create !== undefined) {
    await redis.eval(`if redis.call('SET', KEYS[1], '1', 'NX') and tonumber(ARGV[1]) > 1 then redis.call('SET', KEYS[2], ARGV[1]) end return 1`, {
      keys: [key, RedisKeys.partitionCountKey(prefix, 1)],
      arguments: [String(create.partitions)],
    });
  }
  return Number((await redis.get(key)) ?? 1);
}

/** The keys of `generation`, split into as many partitions as it was created with. */
export async function generationKeys(redis: RedisClient, prefix: string, generation: number): Promise<RedisKeys> {
  return new RedisKeys(prefix, generation, Number((await redis.get(RedisKeys.partitionCountKey(prefix, generation))) ?? 1));
}

const compareTokens = (a: string, b: string) => comparePositions(parsePosition(a)!, parsePosition(b)!);

/** The later of two checkpoints, either of which may be missing. */
function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return compareTokens(a, b) >= 0 ? a : b;
}
