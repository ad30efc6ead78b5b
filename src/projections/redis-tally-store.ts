import type { RankOrder } from '../domain/ranking.js';
import { emptyTally, type Tally } from '../domain/tally.js';
import type { RedisClient } from '../platform/redis.js';
import { RedisKeys } from './redis-keys.js';
import type { PollKey, TallyKey } from './tally-key.js';
import { tallyIdOf } from './tally-key.js';
import type { StoredTally, TallyChange } from './tally-projection.js';
import { type RankedTally, StaleTallyError, type TallyReading, type TallyStore } from './tally-store.js';

/**
 * Applies a group of tally changes. Each tally changes only if it still holds the checkpoint the
 * projector folded from, and then its figures, histogram, voters, ranks and new checkpoint all
 * at once. Returns the positions (1-based) of tallies it refused.
 */
const applyTalliesScript = `
local i, k, refused = 2, 1, {}
-- Variadic commands straight from ARGV ranges, in slices that stay within Lua's stack.
local function ranged(command, key, first, count)
  local at, last = first, first + count - 1
  while at <= last do
    local upto = math.min(last, at + 999)
    redis.call(command, key, unpack(ARGV, at, upto))
    at = upto + 1
  end
end
for t = 1, tonumber(ARGV[1]) do
  local tally, voters = KEYS[k], KEYS[k + 1]
  local ranks, expected, checkpoint, target = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local count = ARGV[i + 5]
  local fields, emptied, set, removed = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local at = i + 9
  local next_tally = at + fields * 2 + emptied + set * 2 + removed + ranks
  if (redis.call('HGET', tally, 'checkpoint') or '') ~= expected then
    refused[#refused + 1] = t
  else
    redis.call('HSET', tally, 'checkpoint', checkpoint, unpack(ARGV, at, at + fields * 2 - 1))
    at = at + fields * 2
    if emptied > 0 then ranged('HDEL', tally, at, emptied) end
    at = at + emptied
    if set > 0 then ranged('HSET', voters, at, set * 2) end
    at = at + set * 2
    if removed > 0 then ranged('HDEL', voters, at, removed) end
    at = at + removed
    for r = 1, ranks do
      if count == '0' then redis.call('ZREM', KEYS[k + 1 + r], target) else redis.call('ZADD', KEYS[k + 1 + r], ARGV[at], target) end
      at = at + 1
    end
  end
  i = next_tally
  k = k + 2 + ranks
end
return refused
`;

/** Tallies per script call: big enough to spare round trips, small enough not to stall Redis. */
const tallyGroupSize = 200;

/** Readers look up the live generation at most this often, so a flip reaches them within it. */
const generationCheckMs = 250;

export class RedisTallyStore implements TallyStore {
  private scriptSha: string | undefined;
  private generationCheckedAt = 0;

  /** `pinned`: a rebuild writes one generation whatever is live; others follow the live one. */
  constructor(
    private readonly redis: RedisClient,
    private keys: RedisKeys,
    private readonly pinned = false,
  ) {}

  /** The store for the live generation, creating generation 1 on a fresh Redis. */
  static async open(redis: RedisClient, prefix: string): Promise<RedisTallyStore> {
    const store = new RedisTallyStore(redis, new RedisKeys(prefix, await liveGeneration(redis, prefix, true)));
    store.generationCheckedAt = Date.now();
    return store;
  }

  static forGeneration(redis: RedisClient, prefix: string, generation: number): RedisTallyStore {
    return new RedisTallyStore(redis, new RedisKeys(prefix, generation), true);
  }

  get generation(): number {
    return this.keys.generation;
  }

  async followLiveGeneration(): Promise<boolean> {
    if (this.pinned) return false;
    this.generationCheckedAt = Date.now();
    const live = await liveGeneration(this.redis, this.keys.prefix);
    if (live === this.keys.generation) return false;
    this.keys = new RedisKeys(this.keys.prefix, live);
    return true;
  }

  private async followForReading(): Promise<void> {
    if (Date.now() - this.generationCheckedAt >= generationCheckMs) await this.followLiveGeneration();
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

  async applyChanges(changes: readonly TallyChange[], checkpoint: string): Promise<void> {
    await this.applyTallies(changes);
    await this.saveCheckpoint(checkpoint);
  }

  /** Each tally's change is atomic; groups of them go in one script call, all in one pipeline. */
  async applyTallies(changes: readonly TallyChange[]): Promise<void> {
    const sha = await this.loadScript();
    const groups = Array.from({ length: Math.ceil(changes.length / tallyGroupSize) }, (_, g) =>
      changes.slice(g * tallyGroupSize, (g + 1) * tallyGroupSize),
    );
    const refused = await Promise.all(groups.map((group) => this.applyGroup(sha, group)));
    const first = refused.findIndex((positions) => positions.length > 0);
    if (first !== -1) {
      const change = groups[first]![refused[first]![0]! - 1]!;
      throw new StaleTallyError(`Tally ${this.keys.tally(change.key)} moved under the projector`);
    }
  }

  async saveCheckpoint(checkpoint: string): Promise<void> {
    await this.redis.set(this.keys.checkpoint(), checkpoint);
  }

  async readCheckpoint(): Promise<string | undefined> {
    await this.followForReading();
    return (await this.redis.get(this.keys.checkpoint())) ?? undefined;
  }

  async readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]> {
    await this.followForReading();
    const keys = targets.map((target) => ({ ...poll, target }));
    const [hashes, values] = await Promise.all([
      Promise.all(keys.map((key) => this.redis.hGetAll(this.keys.tally(key)))),
      voter === undefined ? undefined : Promise.all(keys.map((key) => this.redis.hGet(this.keys.voters(key), voter))),
    ]);
    return hashes.map((hash, index) => {
      const tally = parseTally(hash);
      return values === undefined ? { tally } : { tally, voterValue: Number(values[index] ?? 0) };
    });
  }

  async readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]> {
    await this.followForReading();
    const targets = await this.redis.zRange(this.keys.rank(poll, order), 0, limit - 1, { REV: true });
    const readings = await this.readTallies(poll, targets);
    return targets.map((target, index) => ({ target, tally: readings[index]!.tally }));
  }

  private async applyGroup(sha: string, group: readonly TallyChange[]): Promise<number[]> {
    const keys: string[] = [];
    const args: string[] = [String(group.length)];
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
    try {
      return (await this.redis.evalSha(sha, { keys, arguments: args })) as number[];
    } catch (error) {
      // A restarted or flushed Redis forgets scripts; load it again once.
      if (!String(error).includes('NOSCRIPT')) throw error;
      this.scriptSha = undefined;
      return (await this.redis.evalSha(await this.loadScript(), { keys, arguments: args })) as number[];
    }
  }

  private async loadScript(): Promise<string> {
    this.scriptSha ??= await this.redis.scriptLoad(applyTalliesScript);
    return this.scriptSha;
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
