import type { RankOrder } from '../domain/ranking.js';
import { emptyTally, type Tally } from '../domain/tally.js';
import type { RedisClient } from '../platform/redis.js';
import { inGeneration, RedisKeys } from './redis-keys.js';
import { applyTalliesScript, claimWriterScript, moveCheckpointScript, readCheckpointScript, readRankScript, readTalliesScript } from './redis-tally-scripts.js';
import type { PollKey, TallyKey } from './tally-key.js';
import { tallyIdOf } from './tally-key.js';
import type { StoredTally, TallyChange } from './tally-projection.js';
import { type CheckpointMove, type RankedTally, type TallyReading, type TallyStore, type WithCheckpoint, type WriteRefusal, WriteRefusedError } from './tally-store.js';

/** Tallies per script call: big enough to spare round trips, small enough not to stall Redis. */
const tallyGroupSize = 200;

export class RedisTallyStore implements TallyStore {
  private leaderEpoch: number | undefined;

  /** `replacing`: a rebuild writes its own generation, and only while this one stays live. */
  private constructor(
    private readonly redis: RedisClient,
    private keys: RedisKeys,
    private readonly replacing?: number,
  ) {}

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
    const outcome = String(await moveCheckpointScript.run(this.redis, this.fenceKeys(), [...this.fenceArgs(move.from), move.to]));
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
    return ((await readCheckpointScript.run(this.redis, this.readKeys(), this.readArgs())) as string | null) ?? undefined;
  }

  async readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]> {
    return (await this.readTalliesWithCheckpoint(poll, targets, voter)).value;
  }

  async readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]> {
    return (await this.readTopWithCheckpoint(poll, order, limit)).value;
  }

  async readTalliesWithCheckpoint(poll: PollKey, targets: readonly string[], voter?: string): Promise<WithCheckpoint<TallyReading[]>> {
    const { checkpoint, readings } = await this.readInOneGeneration(poll, targets, voter);
    return { checkpoint, value: readings };
  }

  async readTopWithCheckpoint(poll: PollKey, order: RankOrder, limit: number): Promise<WithCheckpoint<RankedTally[]>> {
    for (;;) {
      const [generation, ...targets] = (await readRankScript.run(this.redis, this.readKeys(), [...this.readArgs(), inGeneration.rank(poll, order), String(limit)])) as string[];
      const read = await this.readInOneGeneration(poll, targets);
      // A rebuild flipped generations between the two reads: rank again in the new one.
      if (read.generation === generation) return { checkpoint: read.checkpoint, value: targets.map((target, index) => ({ target, tally: read.readings[index]!.tally })) };
    }
  }

  /** Tallies, the voter's values and the checkpoint, all from the generation live when the script ran. */
  private async readInOneGeneration(poll: PollKey, targets: readonly string[], voter?: string) {
    const names = targets.flatMap((target) => [inGeneration.tally({ ...poll, target }), inGeneration.voters({ ...poll, target })]);
    const reply = (await readTalliesScript.run(this.redis, this.readKeys(), [...this.readArgs(), voter ?? '', ...names])) as unknown[];
    const [generation, checkpoint, ...replies] = reply as [string, string | null, ...unknown[]];
    const step = voter === undefined ? 1 : 2;
    const readings: TallyReading[] = targets.map((_, index) => {
      const tally = parseTally(hashOf(replies[index * step] as string[]));
      return voter === undefined ? { tally } : { tally, voterValue: Number((replies[index * step + 1] as string | null) ?? 0) };
    });
    return { generation, checkpoint: checkpoint ?? undefined, readings };
  }

  private readKeys(): string[] {
    return [RedisKeys.generationKey(this.keys.prefix)];
  }

  /** A rebuild reads the generation it writes; everyone else the live one, found by the script. */
  private readArgs(): string[] {
    return [this.keys.prefix, this.replacing === undefined ? '' : String(this.keys.generation)];
  }

  private fenceKeys(): string[] {
    return [RedisKeys.generationKey(this.keys.prefix), this.keys.checkpoint(), RedisKeys.leaderEpochKey(this.keys.prefix)];
  }

  private fenceArgs(from: string | undefined): string[] {
    return [String(this.replacing ?? this.keys.generation), from ?? '', this.leaderEpoch === undefined ? '' : String(this.leaderEpoch)];
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
    const keys = this.fenceKeys();
    const args: string[] = [...this.fenceArgs(from), String(group.length)];
    for (const change of group) {
      const orders = Object.keys(change.scores) as RankOrder[];
      keys.push(this.keys.tally(change.key), this.keys.voters(change.key), ...orders.map((order) => this.keys.rank(change.key, order)));
      const { tally } = change;
      const fields = ['count', String(tally.count), 'sum', String(tally.sum), 'up', String(tally.up), 'down', String(tally.down)];
      for (const [value, ballots] of Object.entries(tally.histogram)) fields.push(`h:${value}`, String(ballots));
      const set: string[] = [];
      const removed: string[] = [];
      for (const [voter, value] of change.voters) {
        if (value === 0) removed.push(voter);
        else set.push(voter, String(value));
      }
      args.push(String(orders.length), change.expectedCheckpoint ?? '', change.checkpoint, change.key.target);
      args.push(String(fields.length / 2), String(tally.count), String(change.emptiedBuckets.length), String(set.length / 2), String(removed.length));
      args.push(...fields, ...change.emptiedBuckets.map((bucket) => `h:${bucket}`), ...set, ...removed);
      for (const order of orders) args.push(String(change.scores[order]));
    }
    return (await applyTalliesScript.run(this.redis, keys, args)) as unknown[];
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

/** A hash as HGETALL answers inside a script: field, value, field, value… */
function hashOf(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
}
