import { createHash } from 'node:crypto';
import type { RedisClient } from '../platform/redis.js';

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
 * The write fence, checked at the start of every write script: a writer writes only while the
 * store is where it left it. KEYS[1] the live generation pointer, KEYS[2] the written generation's
 * checkpoint, KEYS[3] the leader epoch. ARGV[1] the generation that must be live, ARGV[2] the
 * checkpoint the write builds on ('' for none), ARGV[3] the writer's leader epoch ('' for a rebuild,
 * which writes a generation no leader writes yet). Returns why it refuses, or false.
 */
const writeFence = `
local function write_refusal()
  if (redis.call('GET', KEYS[1]) or '1') ~= ARGV[1] then return 'generation-moved' end
  if ARGV[3] ~= '' then
    local fence, epoch = tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(ARGV[3])
    if epoch < fence then return 'deposed' end
    -- After a FLUSHALL the fence comes back with the first write.
    if epoch > fence then redis.call('SET', KEYS[3], ARGV[3]) end
  end
  if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 'checkpoint-moved' end
  return false
end
`;

/**
 * Applies a group of tally changes behind the write fence. Each tally changes only if it still
 * holds the checkpoint the projector folded from, and then its figures, histogram, voters, ranks
 * and new checkpoint all at once. Returns {refusal} or {'applied', positions (1-based) of tallies
 * it refused}. ARGV[4] the number of tallies; theirs follow from KEYS[4] and ARGV[5].
 */
export const applyTalliesScript = new RedisScript(`${writeFence}
local refusal = write_refusal()
if refusal then return { refusal } end
local i, k, result = 5, 4, { 'applied' }
-- Variadic commands straight from ARGV ranges, in slices that stay within Lua's stack.
local function ranged(command, key, first, count)
  local at, last = first, first + count - 1
  while at <= last do
    local upto = math.min(last, at + 999)
    redis.call(command, key, unpack(ARGV, at, upto))
    at = upto + 1
  end
end
for t = 1, tonumber(ARGV[4]) do
  local tally, voters = KEYS[k], KEYS[k + 1]
  local ranks, expected, checkpoint, target = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local count = ARGV[i + 5]
  local fields, emptied, set, removed = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local at = i + 9
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

/** Moves the generation's checkpoint to ARGV[4] behind the write fence. Returns the refusal or 'moved'. */
export const moveCheckpointScript = new RedisScript(`${writeFence}
local refusal = write_refusal()
if refusal then return refusal end
redis.call('SET', KEYS[2], ARGV[4])
return 'moved'
`);

/** KEYS[1] the leader epoch; ARGV[1] a new leader's epoch. Returns the epoch the store then holds. */
export const claimWriterScript = new RedisScript(`
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return fence end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
`);
