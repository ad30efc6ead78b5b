import { call } from '../../support/app.js';
import { type Service, tallyAfter } from './service-calls.js';

type Counts = { count: number; sum: number; up: number; down: number };

/**
 * The tallies the votes the service acknowledged must add up to, and those votes' positions.
 * Votes go out in rounds through every replica in turn, ten at a time on distinct ballots, so
 * the order of two votes on one ballot is never in doubt.
 */
export class VoteModel {
  readonly acknowledged: string[] = [];
  readonly castThrough = new Map<string, number>();
  private readonly ballots = new Map<string, Map<string, number>>();
  private rounds = 0;

  constructor(
    private readonly key: string,
    private readonly poll: string,
  ) {}

  /** Casts `size` votes across `replicas`; resolves with a position every one of them precedes. */
  async castRound(replicas: readonly Service[], size: number): Promise<string> {
    this.rounds += 1;
    for (let first = 0; first < size; first += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, size - first) }, (_, j) => {
          const n = first + j;
          const vote = { target: `t${Math.floor(Math.random() * 5)}`, voter: `v${(first + j) % 30}`, value: [-1, 0, 1][Math.floor(Math.random() * 3)]! };
          return this.cast(replicas[n % replicas.length]!, vote);
        }),
      );
    }
    // Cast after every other vote was answered: its transaction began after theirs committed.
    return this.cast(replicas[0]!, { target: 'sentinel', voter: `round-${this.rounds}`, value: 1 });
  }

  /** Every difference between the expected tallies and what each replica serves once past `position`. */
  async differences(replicas: readonly Service[], position: string): Promise<string[]> {
    const found: string[] = [];
    for (const [target, ballots] of this.ballots) {
      const expected = countsOf([...ballots.values()]);
      for (const replica of replicas) {
        const tally = await tallyAfter(replica, this.key, this.poll, target, position);
        const served = { count: tally.count, sum: tally.sum, up: tally.up, down: tally.down };
        if (JSON.stringify(served) !== JSON.stringify(expected)) found.push(`${replica.baseUrl} ${target}: ${JSON.stringify(served)}, expected ${JSON.stringify(expected)}`);
      }
    }
    return found;
  }

  get votesCast(): number {
    return [...this.castThrough.values()].reduce((sum, n) => sum + n, 0);
  }

  private async cast(replica: Service, vote: { target: string; voter: string; value: number }): Promise<string> {
    this.castThrough.set(replica.baseUrl, (this.castThrough.get(replica.baseUrl) ?? 0) + 1);
    const response = await call(replica, 'POST', `/v1/polls/${this.poll}/votes`, { key: this.key, body: vote });
    if (response.status !== 200) throw new Error(`${replica.baseUrl} answered a vote with ${response.status}: ${JSON.stringify(response.body)}`);
    const ballots = this.ballots.get(vote.target) ?? new Map<string, number>();
    this.ballots.set(vote.target, ballots.set(vote.voter, vote.value));
    if (response.body.changed === true) this.acknowledged.push(String(response.body.position));
    return String(response.body.position);
  }
}

function countsOf(values: number[]): Counts {
  const active = values.filter((value) => value !== 0);
  return { count: active.length, sum: active.reduce((sum, value) => sum + value, 0), up: active.filter((v) => v > 0).length, down: active.filter((v) => v < 0).length };
}
