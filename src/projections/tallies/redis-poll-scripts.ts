import type { RankOrder } from '../../domain/ranking.js';
import { RedisScript } from './redis-tally-scripts.js';
import type { RedisKeys } from './redis-keys.js';
import type { Tally } from '../../domain/tally.js';
import type { PollChange, TallyChange } from './tally-projection.js';

/** A script call: every key it touches is one poll's, so on a Redis Cluster it runs in one slot. */
export interface PollCall {
  readonly keys: string[];
  readonly args: string[];
}

/** Variadic commands from ranges of a list, in slices (of whole pairs) that stay within Lua's stack. */
const ranged = `
local function ranged(command, key, list, first, count)
  local at, last = first, first + count - 1
  while at <= last do
    local upto = math.min(last, at + 999)
    redis.call(command, key, unpack(list, at, upto))
    at = upto + 1
  end
end
`;

/**
 * Applies one poll's change of one batch: the exactly-once guard. Refused unless the poll's meta
 * still holds the checkpoint the change was folded from ('poll-moved') and no newer leader has
 * written the poll ('deposed'); otherwise moves the poll's checkpoint and epoch, and writes with
 * one command per key: one HSET per tally hash and per voters hash (HDEL for what emptied), one
 * ZADD per rank set with every changed member (ZREM for tallies that fell to zero).
 *
 * KEYS: meta, the rank sets, then per tally its hash and its voters hash.
 * ARGV: epoch, expected, checkpoint, rank sets, tallies, voters; per rank set: adds, removes,
 * score/member pairs, members; per tally: fields, emptied, field/value pairs, fields. Voters is
 * one JSON array holding, per tally, its voter/value pairs to set and its voters to remove: a
 * catch-up moves a voter per event, and one string decoded by Redis costs both sides far less
 * than two arguments per voter. Layout: packPollChange.
 */
export const applyPollScript = new RedisScript(`${ranged}
local meta = KEYS[1]
if tonumber(ARGV[1]) < tonumber(redis.call('HGET', meta, 'epoch') or '0') then return 'deposed' end
if (redis.call('HGET', meta, 'checkpoint') or '') ~= ARGV[2] then return 'poll-moved' end
redis.call('HSET', meta, 'checkpoint', ARGV[3], 'epoch', ARGV[1])
local ranks, tallies, voters, at = tonumber(ARGV[4]), tonumber(ARGV[5]), cjson.decode(ARGV[6]), 7
for r = 1, ranks do
  local adds, removes = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  at = at + 2
  if adds > 0 then ranged('ZADD', KEYS[1 + r], ARGV, at, adds * 2) end
  at = at + adds * 2
  if removes > 0 then ranged('ZREM', KEYS[1 + r], ARGV, at, removes) end
  at = at + removes
end
local k = 2 + ranks
for t = 1, tallies do
  local fields, emptied = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  at = at + 2
  ranged('HSET', KEYS[k], ARGV, at, fields * 2)
  at = at + fields * 2
  if emptied > 0 then ranged('HDEL', KEYS[k], ARGV, at, emptied) end
  at = at + emptied
  local set, removed = voters[2 * t - 1], voters[2 * t]
  if #set > 0 then ranged('HSET', KEYS[k + 1], set, 1, #set) end
  if #removed > 0 then ranged('HDEL', KEYS[k + 1], removed, 1, #removed) end
  k = k + 2
end
return 'applied'
`);

/** Packs one poll's change in the layout applyPollScript reads. `epoch` 0: a writer that holds none (a rebuild). */
export function packPollChange(keys: RedisKeys, change: PollChange, epoch: number): PollCall {
  const orders = new Set<RankOrder>();
  for (const { scores } of change.tallies) for (const order in scores) orders.add(order as RankOrder);
  const poll = keys.pollKeys(change.poll);
  const callKeys = [poll.meta];
  for (const order of orders) callKeys.push(poll.rank(order));
  const voters: string[][] = [];
  const args = [String(epoch), change.expectedCheckpoint ?? '', change.checkpoint, String(orders.size), String(change.tallies.length), ''];
  for (const order of orders) {
    const adds: string[] = [];
    const removes: string[] = [];
    for (const { key, tally, scores } of change.tallies) {
      const score = rankedScore(tally, scores, order);
      if (score === undefined) removes.push(key.target);
      else adds.push(String(score), key.target);
    }
    args.push(String(adds.length / 2), String(removes.length));
    for (const add of adds) args.push(add);
    for (const remove of removes) args.push(remove);
  }
  for (const { key, tally, emptiedBuckets, voters: values } of change.tallies) {
    callKeys.push(poll.tally(key.target), poll.voters(key.target));
    const fields = tallyHashFields(tally);
    args.push(String(fields.length / 2), String(emptiedBuckets.length));
    for (const field of fields) args.push(field);
    for (const bucket of emptiedBuckets) args.push(`h:${bucket}`);
    const set: string[] = [];
    const removed: string[] = [];
    for (const [voter, value] of values) {
      if (value === 0) removed.push(voter);
      else set.push(voter, String(value));
    }
    voters.push(set, removed);
  }
  args[5] = JSON.stringify(voters);
  return { keys: callKeys, args };
}

/** A tally hash's field/value pairs: count, sum, up, down, and h:<value> for each value held. */
export function tallyHashFields(tally: Tally): string[] {
  const fields = ['count', String(tally.count), 'sum', String(tally.sum), 'up', String(tally.up), 'down', String(tally.down)];
  for (const [value, ballots] of Object.entries(tally.histogram)) fields.push(`h:${value}`, String(ballots));
  return fields;
}

/** A tally's score in the rank set of `order`; undefined when it belongs in none (no ballot left). */
export function rankedScore(tally: Tally, scores: TallyChange['scores'], order: RankOrder): number | undefined {
  return tally.count === 0 ? undefined : scores[order];
}

/**
 * Reads tallies of one poll at once with the poll's checkpoint, so they always agree: returns
 * { checkpoint or false, one flat field/value list per tally hash, then (if ARGV[1] names a voter)
 * one value or false per voters hash }. KEYS: meta, the tally hashes, then their voters hashes.
 */
export const readPollScript = new RedisScript(`
local tallies = (#KEYS - 1) / (ARGV[1] == '' and 1 or 2)
local result = { redis.call('HGET', KEYS[1], 'checkpoint') }
for t = 1, tallies do result[#result + 1] = redis.call('HGETALL', KEYS[1 + t]) end
if ARGV[1] ~= '' then
  for t = 1, tallies do result[#result + 1] = redis.call('HGET', KEYS[1 + tallies + t], ARGV[1]) end
end
return result
`);
