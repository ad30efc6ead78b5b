import { createHash } from 'node:crypto';
import { type RedisClient, sendKeyedCommand } from '../../platform/redis.js';

/**
 * A Lua script run by its SHA; where Redis has forgotten it (a restart, a flush, a cluster node
 * that never ran it) it runs once by its source, which loads it there again.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    // One array, never spread into a call: a batch's script can take more arguments than a call's stack holds.
    const call = [String(keys.length)].concat(keys, args);
    try {
      return await sendKeyedCommand(redis, keys[0]!, ['EVALSHA', this.sha].concat(call));
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
      return sendKeyedCommand(redis, keys[0]!, ['EVAL', this.source].concat(call));
    }
  }
}

/**
 * The argument layouts of the scripts below, named once: each packer writes by these names and
 * each script reads by them, so no caller ties KEYS or ARGV slots by position alone.
 */
const fenceKeySlots = ['generation', 'checkpoint', 'leaderEpoch'] as const;
const fenceArgSlots = ['liveGeneration', 'fromCheckpoint', 'leaderEpoch'] as const;

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

/** Packs a checkFence call: the fence alone. */
export function packFence(fence: FenceCall): { keys: string[]; args: string[] } {
  return { keys: packSlots(fenceKeySlots, fence.keys), args: packSlots(fenceArgSlots, fence.args) };
}

/** Packs a moveCheckpoint call: the fence, then the checkpoint to move to. */
export function packMoveCheckpoint(fence: FenceCall, to: string): { keys: string[]; args: string[] } {
  return { keys: packSlots(fenceKeySlots, fence.keys), args: [...packSlots(fenceArgSlots, fence.args), to] };
}

/** The write fence alone, checked before a batch's poll writes. Returns the refusal or 'open'. Layout: packFence. */
export const checkFenceScript = new RedisScript(`${writeFence}
return write_refusal() or 'open'
`);

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
