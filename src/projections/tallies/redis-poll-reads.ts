import type { PollKey } from '../../domain/identity-keys.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { RedisClient } from '../../platform/redis.js';
import { readPollScript } from './redis-poll-scripts.js';
import type { RedisKeys } from './redis-keys.js';

/** Tallies of one poll as one script reads them, with the poll's checkpoint they stand at. */
export interface PollReading {
  /** The poll's checkpoint; undefined when the store holds nothing of the poll. */
  readonly checkpoint: string | undefined;
  /** Per target, in order; undefined where the store holds no tally. */
  readonly tallies: (Tally | undefined)[];
  /** Per target, the voter's value (0 for none); only when a voter was asked for. */
  readonly voterValues?: number[];
}

/** Targets per script call: a big read stays short for Redis, and each call is one poll's. */
const targetsPerCall = 1000;

/**
 * Reads `targets` of `poll`, one script call per 1,000 targets, all sent at once. A read of more
 * than one call may straddle a write; the projector's guard catches that (the poll's checkpoint
 * it then writes from has moved), and readers see each slice whole.
 */
export async function readPoll(redis: RedisClient, keys: RedisKeys, poll: PollKey, targets: readonly string[], voter?: string): Promise<PollReading> {
  const slices = Array.from({ length: Math.ceil(targets.length / targetsPerCall) }, (_, i) => targets.slice(i * targetsPerCall, (i + 1) * targetsPerCall));
  const replies = await Promise.all(slices.map((slice) => readSlice(redis, keys, poll, slice, voter)));
  if (replies.length === 0) return { checkpoint: undefined, tallies: [], ...(voter === undefined ? {} : { voterValues: [] }) };
  return {
    checkpoint: replies[0]!.checkpoint,
    tallies: replies.flatMap((reply) => reply.tallies),
    ...(voter === undefined ? {} : { voterValues: replies.flatMap((reply) => reply.voterValues!) }),
  };
}

async function readSlice(redis: RedisClient, keys: RedisKeys, poll: PollKey, targets: readonly string[], voter?: string): Promise<PollReading> {
  const pollKeys = keys.pollKeys(poll);
  const scriptKeys = [pollKeys.meta, ...targets.map((target) => pollKeys.tally(target))];
  if (voter !== undefined) scriptKeys.push(...targets.map((target) => pollKeys.voters(target)));
  const reply = (await readPollScript.run(redis, scriptKeys, [voter ?? ''])) as (string | null | string[])[];
  const tallies = targets.map((_, index) => parseTallyFields(reply[1 + index] as string[]));
  const checkpoint = (reply[0] as string | null) ?? undefined;
  if (voter === undefined) return { checkpoint, tallies };
  return { checkpoint, tallies, voterValues: targets.map((_, index) => Number((reply[1 + targets.length + index] as string | null) ?? 0)) };
}

/** A tally hash as HGETALL's flat field/value list; undefined when the hash does not exist. */
function parseTallyFields(flat: readonly string[]): Tally | undefined {
  if (flat.length === 0) return undefined;
  const hash: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return parseTally(hash);
}

export function parseTally(hash: Record<string, string>): Tally {
  if (hash.count === undefined) return emptyTally;
  const histogram: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) if (field.startsWith('h:')) histogram[field.slice(2)] = Number(value);
  return { count: Number(hash.count), sum: Number(hash.sum), up: Number(hash.up), down: Number(hash.down), histogram };
}
