import { type PollKey, pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import type { RankOrder } from '../../domain/ranking.js';
import { emptyTally } from '../../domain/tally.js';
import type { Tally } from '../../domain/tally.js';
import type { PollChange, StoredTallies, TallyChange } from './tally-projection.js';
import { type CheckpointMove, type RankedTally, type TallyReading, type TallyStore, type WithCheckpoint, WriteRefusedError } from './tally-store.js';

interface Entry {
  readonly key: TallyKey;
  readonly tally: Tally;
  readonly voters: Map<string, number>;
  readonly scores: TallyChange['scores'];
}

/** The embedded read model: lives in this process and is rebuilt from the log at start-up. */
export class MemoryTallyStore implements TallyStore {
  private readonly tallies = new Map<string, Entry>();
  private readonly byPoll = new Map<string, Set<string>>();
  private readonly pollCheckpoints = new Map<string, string>();
  private checkpoint: string | undefined;
  private ballots = 0;
  /** One process projects the whole log: never split. */
  readonly partitions = 1;

  /** How much it holds: one tally per target, one entry per active ballot. */
  size(): { targets: number; ballots: number } {
    return { targets: this.tallies.size, ballots: this.ballots };
  }

  /** Whether it holds this target's tally, and this voter's active ballot on it. */
  holds(key: TallyKey, voter: string): { target: boolean; ballot: boolean } {
    const entry = this.tallies.get(tallyIdOf(key));
    return { target: entry !== undefined, ballot: entry?.voters.has(voter) ?? false };
  }

  async loadTallies(keys: readonly TallyKey[]): Promise<StoredTallies> {
    const tallies = new Map<string, Tally>();
    const checkpoints = new Map<string, string>();
    for (const key of keys) {
      const entry = this.tallies.get(tallyIdOf(key));
      if (entry !== undefined) tallies.set(tallyIdOf(key), entry.tally);
      const checkpoint = this.pollCheckpoints.get(pollIdOf(key));
      if (checkpoint !== undefined) checkpoints.set(pollIdOf(key), checkpoint);
    }
    return { tallies, checkpoints };
  }

  async applyChanges(changes: readonly PollChange[], move: CheckpointMove): Promise<void> {
    if (this.checkpoint !== move.from) throw new WriteRefusedError('checkpoint-moved', `The read model's checkpoint is ${this.checkpoint ?? 'none'}, not ${move.from ?? 'none'}`);
    this.applyPolls(changes);
    this.checkpoint = move.to;
  }

  /** Each poll changes only if it still holds the checkpoint the change was folded from. */
  applyPolls(changes: readonly PollChange[]): void {
    for (const change of changes) {
      const pollId = pollIdOf(change.poll);
      if (this.pollCheckpoints.get(pollId) !== change.expectedCheckpoint) throw new WriteRefusedError('poll-moved', `Poll ${pollId} moved under the projector`);
      for (const tally of change.tallies) this.applyTally(tally);
      this.pollCheckpoints.set(pollId, change.checkpoint);
    }
  }

  private applyTally(change: TallyChange): void {
    const id = tallyIdOf(change.key);
    const voters = this.tallies.get(id)?.voters ?? new Map<string, number>();
    for (const [voter, value] of change.voters) {
      const had = voters.has(voter);
      if (value === 0) voters.delete(voter);
      else voters.set(voter, value);
      this.ballots += Number(value !== 0) - Number(had);
    }
    this.tallies.set(id, { key: change.key, tally: change.tally, voters, scores: change.scores });
    const pollId = pollIdOf(change.key);
    if (!this.byPoll.has(pollId)) this.byPoll.set(pollId, new Set());
    this.byPoll.get(pollId)!.add(id);
  }

  /** One process, one writer: there is no other leader to fence off. */
  async claimWriter(epoch: number): Promise<number> {
    return epoch;
  }

  async followLiveGeneration(): Promise<boolean> {
    return false;
  }

  async readCheckpoint(): Promise<string | undefined> {
    return this.checkpoint;
  }

  async readTalliesWithCheckpoint(poll: PollKey, targets: readonly string[], voter?: string): Promise<WithCheckpoint<TallyReading[]>> {
    return { checkpoint: this.checkpoint, value: await this.readTallies(poll, targets, voter) };
  }

  async readTopWithCheckpoint(poll: PollKey, order: RankOrder, limit: number): Promise<WithCheckpoint<RankedTally[]>> {
    return { checkpoint: this.checkpoint, value: await this.readTop(poll, order, limit) };
  }

  async readTallies(poll: PollKey, targets: readonly string[], voter?: string): Promise<TallyReading[]> {
    return targets.map((target) => {
      const entry = this.tallies.get(tallyIdOf({ ...poll, target }));
      const tally = entry?.tally ?? emptyTally;
      return voter === undefined ? { tally } : { tally, voterValue: entry?.voters.get(voter) ?? 0 };
    });
  }

  async readTop(poll: PollKey, order: RankOrder, limit: number): Promise<RankedTally[]> {
    const entries = [...(this.byPoll.get(pollIdOf(poll)) ?? [])]
      .map((id) => this.tallies.get(id)!)
      .filter((entry) => entry.tally.count > 0 && entry.scores[order] !== undefined);
    // Ties go to the target greater byte by byte, as in a Redis sorted set read in reverse.
    entries.sort((a, b) => b.scores[order]! - a.scores[order]! || Buffer.compare(Buffer.from(b.key.target), Buffer.from(a.key.target)));
    return entries.slice(0, limit).map((entry) => ({ target: entry.key.target, tally: entry.tally }));
  }
}
