import { createHash } from 'node:crypto';
import type { RedisClient } from '../../platform/redis.js';

/** A Lua script run by its SHA, loaded again whenever Redis has forgotten it (a restart, a flush). */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await redis.evalSha(this.sha, { keys, arguments: args });
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
      await redis.scriptLoad(this.source);
      return redis.evalSha(this.sha, { keys, arguments: args });
    }
  }
}

/**
 * The argument layouts of the scripts below, named once: each packer writes by these names and
 * each script reads by them, so no caller ties KEYS or ARGV slots by position alone.
 */
const fenceKeySlots = ['generation', 'checkpoint', 'leaderEpoch'] as const;
const fenceArgSlots = ['liveGeneration', 'fromCheckpoint', 'leaderEpoch'] as const;
/** Per tally in applyTallies: these ARGV slots, then its fields, emptied buckets, voters set, voters removed and scores. */
const tallyArgSlots = ['ranks', 'expected', 'checkpoint', 'target', 'fields', 'count', 'emptied', 'set', 'removed'] as const;

type Slots<T extends readonly string[]> = Record<T[number], string>;

/** The Lua 1-based index of a slot, as text for a script. */
const slot = <T extends readonly string[]>(slots: T, name: T[number]) => String(slots.indexOf(name) + 1);
const fenceKey = (name: (typeof fenceKeySlots)[number]) => `KEYS[${slot(fenceKeySlots, name)}]`;
const fenceArg = (name: (typeof fenceArgSlots)[number]) => `ARGV[${slot(fenceArgSlots, name)}]`;
/** The first slot after the fence's: where each script's own arguments begin. */
const afterFence = { keys: fenceKeySlots.length + 1, args: fenceArgSlots.length + 1 };

const packSlots = <T extends readonly string[]>(slots: T, values: Slots<T>): string[] => slots.map((name: T[number]) => values[name]);

/** The fence's keys and arguments, first in every write script's call. */
export interface FenceCall {
  readonly keys: Slots<typeof fenceKeySlots>;
  /** liveGeneration: the generation that must be live; fromCheckpoint: '' for none; leaderEpoch: '' for a rebuild. */
  readonly args: Slots<typeof fenceArgSlots>;
}

/**
 * The write fence, checked at the start of every write script: a writer writes only while the
 * store is where it left it (the live generation, the written generation's checkpoint, the leader
 * epoch; a rebuild writes a generation no leader writes yet). Returns why it refuses, or false.
 */
const writeFence = `
local function write_refusal()
  if (redis.call('GET', ${fenceKey('generation')}) or '1') ~= ${fenceArg('liveGeneration')} then return 'generation-moved' end
  if ${fenceArg('leaderEpoch')} ~= '' then
    local fence, epoch = tonumber(redis.call('GET', ${fenceKey('leaderEpoch')}) or '0'), tonumber(${fenceArg('leaderEpoch')})
    if epoch < fence then return 'deposed' end
    -- After a FLUSHALL the fence comes back with the first write.
    if epoch > fence then redis.call('SET', ${fenceKey('leaderEpoch')}, ${fenceArg('leaderEpoch')}) end
  end
  if (redis.call('GET', ${fenceKey('checkpoint')}) or '') ~= ${fenceArg('fromCheckpoint')} then return 'checkpoint-moved' end
  return false
end
`;

/** One tally's write: its keys, the checkpoint it must still hold, and what changes. */
export interface TallyWrite {
  readonly tallyKey: string;
  readonly votersKey: string;
  readonly rankKeys: readonly string[];
  readonly expected: string;
  readonly checkpoint: string;
  readonly target: string;
  readonly count: number;
  /** Hash field/value pairs, flat. */
  readonly fields: readonly string[];
  readonly emptied: readonly string[];
  /** Voter/value pairs, flat. */
  readonly set: readonly string[];
  readonly removed: readonly string[];
  /** One score per rank key, in the same order. */
  readonly scores: readonly string[];
}

/** Packs an applyTallies call in the layout its script reads. */
export function packApplyTallies(fence: FenceCall, writes: readonly TallyWrite[]): { keys: string[]; args: string[] } {
  const keys = packSlots(fenceKeySlots, fence.keys);
  const args = [...packSlots(fenceArgSlots, fence.args), String(writes.length)];
  for (const write of writes) {
    keys.push(write.tallyKey, write.votersKey, ...write.rankKeys);
    args.push(
      ...packSlots(tallyArgSlots, {
        ranks: String(write.rankKeys.length),
        expected: write.expected,
        checkpoint: write.checkpoint,
        target: write.target,
        fields: String(write.fields.length / 2),
        count: String(write.count),
        emptied: String(write.emptied.length),
        set: String(write.set.length / 2),
        removed: String(write.removed.length),
      }),
    );
    args.push(...write.fields, ...write.emptied, ...write.set, ...write.removed, ...write.scores);
  }
  return { keys, args };
}

const tallyArg = (name: (typeof tallyArgSlots)[number]) => `ARGV[i + ${Number(slot(tallyArgSlots, name)) - 1}]`;

/**
 * Applies a group of tally changes behind the write fence. Each tally changes only if it still
 * holds the checkpoint the projector folded from, and then its figures, histogram, voters, ranks
 * and new checkpoint all at once. Returns {refusal} or {'applied', positions (1-based) of tallies
 * it refused}. Layout: packApplyTallies.
 */
export const applyTalliesScript = new RedisScript(`${writeFence}
local refusal = write_refusal()
if refusal then return { refusal } end
local i, k, result = ${afterFence.args + 1}, ${afterFence.keys}, { 'applied' }
-- Variadic commands straight from ARGV ranges, in slices that stay within Lua's stack.
local function ranged(command, key, first, count)
  local at, last = first, first + count - 1
  while at <= last do
    local upto = math.min(last, at + 999)
    redis.call(command, key, unpack(ARGV, at, upto))
    at = upto + 1
  end
end
for t = 1, tonumber(ARGV[${afterFence.args}]) do
  local tally, voters = KEYS[k], KEYS[k + 1]
  local ranks, expected, checkpoint, target = tonumber(${tallyArg('ranks')}), ${tallyArg('expected')}, ${tallyArg('checkpoint')}, ${tallyArg('target')}
  local count = ${tallyArg('count')}
  local fields, emptied, set, removed = tonumber(${tallyArg('fields')}), tonumber(${tallyArg('emptied')}), tonumber(${tallyArg('set')}), tonumber(${tallyArg('removed')})
  local at = i + ${tallyArgSlots.length}
  local next_tally = at + fields * 2 + emptied + set * 2 + removed + ranks
  if (redis.call('HGET', tally, 'checkpoint') or '') ~= expected then
    result[#result + 1] = t
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
return result
`);

/** Packs a moveCheckpoint call: the fence, then the checkpoint to move to. */
export function packMoveCheckpoint(fence: FenceCall, to: string): { keys: string[]; args: string[] } {
  return { keys: packSlots(fenceKeySlots, fence.keys), args: [...packSlots(fenceArgSlots, fence.args), to] };
}

/** Moves the generation's checkpoint behind the write fence. Returns the refusal or 'moved'. Layout: packMoveCheckpoint. */
export const moveCheckpointScript = new RedisScript(`${writeFence}
local refusal = write_refusal()
if refusal then return refusal end
redis.call('SET', ${fenceKey('checkpoint')}, ARGV[${afterFence.args}])
return 'moved'
`);

/** KEYS[1] the leader epoch; ARGV[1] a new leader's epoch. Returns the epoch the store then holds. */
export const claimWriterScript = new RedisScript(`
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return fence end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
`);
