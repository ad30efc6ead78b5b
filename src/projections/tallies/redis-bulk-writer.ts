import { type PollKey, pollIdOf } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';
import type { RedisClient } from '../../platform/redis.js';
import type { PollKeys, RedisKeys } from './redis-keys.js';
import { rankedScore, tallyHashFields } from './redis-poll-scripts.js';
import type { TallyChange } from './tally-projection.js';

/** Field/value pairs (or rank members) per command: each stays short, as Redis serves readers meanwhile. */
const pairsPerCommand = 1000;
/** Arguments sent before waiting for the replies to the window before: Redis stays busy, memory bounded. */
const argumentsPerWindow = 50_000;

interface OpenPoll {
  readonly id: string;
  readonly keys: PollKeys;
  readonly ranks: Map<RankOrder, { score: number; value: string }[]>;
}

/**
 * Writes a whole generation that nothing reads or writes yet, with plain pipelined commands: per
 * tally one HSET of its hash and HSETs of its voters, per poll a ZADD per rank set every 1,000
 * members, then the poll's meta (its checkpoint, and epoch 0: a writer that holds no leadership,
 * as a rebuild's projector). The keys and values are exactly what applyPollScript leaves for the
 * same tallies; without its guard, which only an incremental write needs. Changes come poll by
 * poll, each poll's tallies together.
 */
export class RedisBulkWriter {
  private poll: OpenPoll | undefined;
  private window: Promise<unknown>[] = [];
  private windowArguments = 0;
  private previousWindow: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly checkpoint: string,
  ) {}

  /** Sends one tally's commands; waits only when a window of commands is full. */
  async write(change: TallyChange): Promise<void> {
    const poll = await this.pollOf(change.key);
    const { target } = change.key;
    const fields = tallyHashFields(change.tally);
    await this.send(this.redis.hSet(poll.keys.tally(target), fields), fields.length);
    let voters: string[] = [];
    for (const [voter, value] of change.voters) {
      voters.push(voter, String(value));
      if (voters.length === pairsPerCommand * 2) {
        await this.send(this.redis.hSet(poll.keys.voters(target), voters), voters.length);
        voters = [];
      }
    }
    if (voters.length > 0) await this.send(this.redis.hSet(poll.keys.voters(target), voters), voters.length);
    for (const order of Object.keys(change.scores) as RankOrder[]) {
      const score = rankedScore(change.tally, change.scores, order);
      if (score === undefined) continue;
      const members = poll.ranks.get(order) ?? [];
      poll.ranks.set(order, members);
      members.push({ score, value: target });
      if (members.length === pairsPerCommand) await this.flushRank(poll, order);
    }
  }

  /** Closes the last poll and waits until Redis has answered every command. */
  async finish(): Promise<void> {
    await this.closePoll();
    await this.previousWindow;
    await Promise.all(this.window);
    this.window = [];
    this.windowArguments = 0;
  }

  private async pollOf(key: PollKey): Promise<OpenPoll> {
    const id = pollIdOf(key);
    if (this.poll?.id === id) return this.poll;
    await this.closePoll();
    this.poll = { id, keys: this.keys.pollKeys(key), ranks: new Map() };
    return this.poll;
  }

  private async closePoll(): Promise<void> {
    const poll = this.poll;
    if (poll === undefined) return;
    for (const order of poll.ranks.keys()) await this.flushRank(poll, order);
    await this.send(this.redis.hSet(poll.keys.meta, ['checkpoint', this.checkpoint, 'epoch', '0']), 4);
    this.poll = undefined;
  }

  private async flushRank(poll: OpenPoll, order: RankOrder): Promise<void> {
    const members = poll.ranks.get(order) ?? [];
    if (members.length === 0) return;
    poll.ranks.set(order, []);
    await this.send(this.redis.zAdd(poll.keys.rank(order), members), members.length * 2);
  }

  /** Commands go out as they are made (node-redis pipelines them); a full window waits for the one before. */
  private async send(reply: Promise<unknown>, args: number): Promise<void> {
    reply.catch(() => {}); // a failure surfaces through its window
    this.window.push(reply);
    this.windowArguments += args;
    if (this.windowArguments < argumentsPerWindow) return;
    const full = Promise.all(this.window);
    full.catch(() => {}); // awaited when the next window fills, or by finish()
    this.window = [];
    this.windowArguments = 0;
    await this.previousWindow;
    this.previousWindow = full;
  }
}
