import type { RankOrder } from '../domain/ranking.js';
import { emptyTally, type Tally } from '../domain/tally.js';
import type { RedisClient } from '../platform/redis.js';
import { RedisKeys } from './redis-keys.js';
import type { PollKey, TallyKey } from './tally-key.js';
import { tallyIdOf } from './tally-key.js';
import type { StoredTally, TallyChange } from './tally-projection.js';
import { type RankedTally, StaleTallyError, type TallyReading, type TallyStore } from './tally-store.js';

/**
 * Applies one tally change: only if the tally still holds the checkpoint the projector folded
 * from, and then the figures, histogram, voters, ranks and the new checkpoint all at once.
 */
const applyTallyScript = `
local tally, voters = KEYS[1], KEYS[2]
if (redis.call('HGET', tally, 'checkpoint') or '') ~= ARGV[1] then return 0 end
redis.call('HSET', tally, 'checkpoint', ARGV[2], 'count', ARGV[4], 'sum', ARGV[5], 'up', ARGV[6], 'down', ARGV[7])
local i = 8
local function each(n, step, action)
  for _ = 1, n do action(i); i = i + step end
end
local histogram = tonumber(ARGV[i]); i = i + 1
each(histogram, 2, function(at)
  if ARGV[at + 1] == '0' then redis.call('HDEL', tally, ARGV[at]) else redis.call('HSET', tally, ARGV[at], ARGV[at + 1]) end
end)
local set = tonumber(ARGV[i]); i = i + 1
each(set, 2, function(at) redis.call('HSET', voters, ARGV[at], ARGV[at + 1]) end)
local removed = tonumber(ARGV[i]); i = i + 1
each(removed, 1, function(at) redis.call('HDEL', voters, ARGV[at]) end)
for k = 3, #KEYS do
  if ARGV[4] == '0' then redis.call('ZREM', KEYS[k], ARGV[3]) else redis.call('ZADD', KEYS[k], ARGV[i], ARGV[3]) end
  i = i + 1
end
return 1
`;

export class RedisTallyStore implements TallyStore {
  private scriptSha: string | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** The store for the live generation, creating generation 1 on a fresh Redis. */
  static async open(redis: RedisClient, prefix: string): Promise<RedisTallyStore> {
    await redis.set(RedisKeys.generationKey(prefix), '1', { condition: 'NX' });
    const generation = Number(await redis.get(RedisKeys.generationKey(prefix)));
    return new RedisTallyStore(redis, new RedisKeys(prefix, generation));
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

  /** One atomic script per tally, all sent in one pipeline. A crash between two leaves each whole. */
  async applyTallies(changes: readonly TallyChange[]): Promise<void> {
    const sha = await this.loadScript();
    const applied = await Promise.all(changes.map((change) => this.applyOne(sha, change)));
    const stale = applied.findIndex((result) => result !== 1);
    if (stale !== -1) throw new StaleTallyError(`Tally ${this.keys.tally(changes[stale]!.key)} moved under the projector`);
  }

  async saveCheckpoint(checkpoint: string): Promise<void> {
    await this.redis.set(this.keys.checkpoint(), checkpoint);
  }

  async readCheckpoint(): Promise<string | undefined> {
    return (await this.redis.get(this.keys.checkpoint())) ?? undefined;
  }

  async readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]> {
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
    const targets = await this.redis.zRange(this.keys.rank(poll, order), 0, limit - 1, { REV: true });
    const readings = await this.readTallies(poll, targets);
    return targets.map((target, index) => ({ target, tally: readings[index]!.tally }));
  }

  private async applyOne(sha: string, change: TallyChange): Promise<unknown> {
    const orders = Object.keys(change.scores) as RankOrder[];
    const histogram = histogramUpdates(change);
    const set = [...change.voters].filter(([, value]) => value !== 0);
    const removed = [...change.voters].filter(([, value]) => value === 0).map(([voter]) => voter);
    const { tally } = change;
    return this.redis.evalSha(sha, {
      keys: [this.keys.tally(change.key), this.keys.voters(change.key), ...orders.map((order) => this.keys.rank(change.key, order))],
      arguments: [
        change.expectedCheckpoint ?? '',
        change.checkpoint,
        change.key.target,
        String(tally.count),
        String(tally.sum),
        String(tally.up),
        String(tally.down),
        String(histogram.length / 2),
        ...histogram,
        String(set.length),
        ...set.flatMap(([voter, value]) => [voter, String(value)]),
        String(removed.length),
        ...removed,
        ...orders.map((order) => String(change.scores[order])),
      ],
    });
  }

  private async loadScript(): Promise<string> {
    this.scriptSha ??= await this.redis.scriptLoad(applyTallyScript);
    return this.scriptSha;
  }
}

/** Every histogram field the change touches; "0" removes the field. */
function histogramUpdates(change: TallyChange): string[] {
  const fields: string[] = [];
  for (const [value, ballots] of Object.entries(change.tally.histogram)) fields.push(`h:${value}`, String(ballots));
  for (const bucket of change.emptiedBuckets) fields.push(`h:${bucket}`, '0');
  return fields;
}

function parseTally(hash: Record<string, string>): Tally {
  if (hash.count === undefined) return emptyTally;
  const histogram: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) if (field.startsWith('h:')) histogram[field.slice(2)] = Number(value);
  return { count: Number(hash.count), sum: Number(hash.sum), up: Number(hash.up), down: Number(hash.down), histogram };
}
