import { type PollKey, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { RedisClient } from '../../platform/redis.js';
import { RedisKeys } from './redis-keys.js';
import {
  applyTalliesScript,
  claimWriterScript,
  type FenceCall,
  moveCheckpointScript,
  packApplyTallies,
  packMoveCheckpoint,
} from './redis-tally-scripts.js';
import type { StoredTally, TallyChange } from './tally-projection.js';
import { type CheckpointMove, type RankedTally, type TallyReading, type TallyStore, type WithCheckpoint, type WriteRefusal, WriteRefusedError } from './tally-store.js';

/** Tallies per script call: big enough to spare round trips, small enough not to stall Redis. */
const tallyGroupSize = 200;

export class RedisTallyStore implements TallyStore {
  private leaderEpoch: number | undefined;
  /** The generation readers last found live; every read checks it still is. */
  private readingKeys: RedisKeys;

  /** `replacing`: a rebuild writes its own generation, and only while this one stays live. */
  private constructor(
    private readonly redis: RedisClient,
    private keys: RedisKeys,
    private readonly replacing?: number,
  ) {
    this.readingKeys = keys;
  }

  /** The store for the live generation, creating generation 1 on a fresh Redis. */
  static async open(redis: RedisClient, prefix: string): Promise<RedisTallyStore> {
    return new RedisTallyStore(redis, new RedisKeys(prefix, await liveGeneration(redis, prefix, true)));
  }

  /** A rebuild's store: writes `generation` whatever is live, refused once `replacing` is no longer live. */
  static forRebuild(redis: RedisClient, prefix: string, generation: number, replacing: number): RedisTallyStore {
    return new RedisTallyStore(redis, new RedisKeys(prefix, generation), replacing);
  }

  get generation(): number {
    return this.keys.generation;
  }

  async followLiveGeneration(): Promise<boolean> {
    if (this.replacing !== undefined) return false;
    const live = await liveGeneration(this.redis, this.keys.prefix);
    if (live === this.keys.generation) return false;
    this.keys = new RedisKeys(this.keys.prefix, live);
    return true;
  }

  async claimWriter(epoch: number): Promise<number> {
    const held = Number(await claimWriterScript.run(this.redis, [RedisKeys.leaderEpochKey(this.keys.prefix)], [String(epoch)]));
    if (held === epoch) this.leaderEpoch = epoch;
    return held;
  }

  async loadTallies(keys: readonly TallyKey[]): Promise<Map<string, StoredTally>> {
    const hashes = await Promise.all(keys.map((key) => this.redis.hGetAll(this.keys.tally(key))));
    const found = new Map<string, StoredTally>();
    keys.forEach((key, index) => {
      const hash = hashes[index]!;
      if (hash.checkpoint !== undefined) found.set(tallyIdOf(key), { tally: parseTally(hash), checkpoint: hash.checkpoint });
    });
    return found;
  }

  async applyChanges(changes: readonly TallyChange[], move: CheckpointMove): Promise<void> {
    await this.applyTallies(changes, move.from);
    const call = packMoveCheckpoint(this.fence(move.from), move.to);
    const outcome = String(await moveCheckpointScript.run(this.redis, call.keys, call.args));
    if (outcome !== 'moved') throw this.refusal(outcome as WriteRefusal, move.from);
  }

  /** Each tally's change is atomic; groups of them go in one script call, all in one pipeline. */
  async applyTallies(changes: readonly TallyChange[], from: string | undefined): Promise<void> {
    const groups = Array.from({ length: Math.ceil(changes.length / tallyGroupSize) }, (_, g) =>
      changes.slice(g * tallyGroupSize, (g + 1) * tallyGroupSize),
    );
    const outcomes = await Promise.all(groups.map((group) => this.applyGroup(group, from)));
    const fenced = outcomes.find(([outcome]) => outcome !== 'applied');
    if (fenced !== undefined) throw this.refusal(fenced[0] as WriteRefusal, from);
    const first = outcomes.findIndex((outcome) => outcome.length > 1);
    if (first !== -1) {
      const change = groups[first]![Number(outcomes[first]![1]) - 1]!;
      throw new WriteRefusedError('tally-moved', `Tally ${this.keys.tally(change.key)} moved under the projector`);
    }
  }

  async readCheckpoint(): Promise<string | undefined> {
    return this.readLive(async (keys) => {
      const [checkpoint, live] = await Promise.all([this.redis.get(keys.checkpoint()), this.readPointer(keys)]);
      return { value: checkpoint ?? undefined, live };
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
      this.readingKeys = new RedisKeys(keys.prefix, live);
    }
  }

  private readPointer(keys: RedisKeys): Promise<number> {
    return this.redis.get(RedisKeys.generationKey(keys.prefix)).then((live) => Number(live ?? 1));
  }

  /** One pipeline: the checkpoint, the tallies, the voter's values, then the live pointer. */
  private async readTalliesIn(keys: RedisKeys, poll: PollKey, targets: readonly string[], voter?: string) {
    const tallyKeys = targets.map((target) => ({ ...poll, target }));
    const [checkpoint, hashes, values, live] = await Promise.all([
      this.redis.get(keys.checkpoint()),
      Promise.all(tallyKeys.map((key) => this.redis.hGetAll(keys.tally(key)))),
      voter === undefined ? undefined : Promise.all(tallyKeys.map((key) => this.redis.hGet(keys.voters(key), voter))),
      this.readPointer(keys),
    ]);
    const readings: TallyReading[] = hashes.map((hash, index) => {
      const tally = parseTally(hash);
      return values === undefined ? { tally } : { tally, voterValue: Number(values[index] ?? 0) };
    });
    return { value: { checkpoint: checkpoint ?? undefined, value: readings }, live };
  }

  private fence(from: string | undefined): FenceCall {
    return {
      keys: { generation: RedisKeys.generationKey(this.keys.prefix), checkpoint: this.keys.checkpoint(), leaderEpoch: RedisKeys.leaderEpochKey(this.keys.prefix) },
      args: {
        liveGeneration: String(this.replacing ?? this.keys.generation),
        fromCheckpoint: from ?? '',
        leaderEpoch: this.leaderEpoch === undefined ? '' : String(this.leaderEpoch),
      },
    };
  }

  private refusal(reason: WriteRefusal, from: string | undefined): WriteRefusedError {
    const messages: Record<WriteRefusal, string> = {
      'tally-moved': 'A tally moved under the projector',
      'checkpoint-moved': `Generation ${this.keys.generation} is no longer at checkpoint ${from ?? '(none)'}: Redis lost data, or another writer moved it`,
      'generation-moved': `Generation ${this.replacing ?? this.keys.generation} is no longer the live one: a rebuild flipped it`,
      deposed: `A newer projector leader than epoch ${this.leaderEpoch} writes the read model`,
    };
    return new WriteRefusedError(reason, messages[reason]);
  }

  private async applyGroup(group: readonly TallyChange[], from: string | undefined): Promise<unknown[]> {
    const writes = group.map((change) => {
      const orders = Object.keys(change.scores) as RankOrder[];
      const { tally } = change;
      const fields = ['count', String(tally.count), 'sum', String(tally.sum), 'up', String(tally.up), 'down', String(tally.down)];
      for (const [value, ballots] of Object.entries(tally.histogram)) fields.push(`h:${value}`, String(ballots));
      const set: string[] = [];
      const removed: string[] = [];
      for (const [voter, value] of change.voters) {
        if (value === 0) removed.push(voter);
        else set.push(voter, String(value));
      }
      return {
        tallyKey: this.keys.tally(change.key),
        votersKey: this.keys.voters(change.key),
        rankKeys: orders.map((order) => this.keys.rank(change.key, order)),
        expected: change.expectedCheckpoint ?? '',
        checkpoint: change.checkpoint,
        target: change.key.target,
        count: tally.count,
        fields,
        emptied: change.emptiedBuckets.map((bucket) => `h:${bucket}`),
        set,
        removed,
        scores: orders.map((order) => String(change.scores[order])),
      };
    });
    const call = packApplyTallies(this.fence(from), writes);
    return (await applyTalliesScript.run(this.redis, call.keys, call.args)) as unknown[];
  }
}

/** The generation readers use: 1 on a fresh Redis (written down only when `create` is set). */
export async function liveGeneration(redis: RedisClient, prefix: string, create = false): Promise<number> {
  const key = RedisKeys.generationKey(prefix);
  if (create) await redis.set(key, '1', { condition: 'NX' });
  return Number((await redis.get(key)) ?? 1);
}

export function parseTally(hash: Record<string, string>): Tally {
  if (hash.count === undefined) return emptyTally;
  const histogram: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) if (field.startsWith('h:')) histogram[field.slice(2)] = Number(value);
  return { count: Number(hash.count), sum: Number(hash.sum), up: Number(hash.up), down: Number(hash.down), histogram };
}

