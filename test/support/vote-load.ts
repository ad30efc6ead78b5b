import { type Kysely, sql } from 'kysely';
import { expect } from 'vitest';
import type { Database } from '../../src/platform/database.js';

export interface Answer {
  readonly status: number;
  /** performance.now() when the answer came. */
  readonly at: number;
  readonly retryAfter: string | null;
  /** The vote's consistency token, on a 2xx. */
  readonly position?: string;
  readonly target: string;
  readonly voter: string;
}

export interface VoteLoad {
  readonly answers: readonly Answer[];
  /** Requests that got no HTTP answer at all (connection refused or reset). */
  readonly unanswered: number;
  /** Stops sending and resolves once every sender has had its last answer. */
  stop(): Promise<void>;
}

/**
 * Senders that keep casting new likes (a fresh voter each time, over five targets) until stopped.
 * A 503 makes its sender pause briefly, as a client honouring Retry-After would.
 */
export function startVoteLoad(url: string, publicKey: string, senders = 8): VoteLoad {
  const answers: Answer[] = [];
  let unanswered = 0;
  let sending = true;
  const send = async (sender: number) => {
    for (let i = 0; sending; i += 1) {
      const target = `t${i % 5}`;
      const voter = `s${sender}-${i}`;
      try {
        const response = await fetch(`${url}/v1/polls/likes/votes`, {
          method: 'POST',
          headers: { authorization: `Bearer ${publicKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target, voter, value: 1 }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await response.json()) as { position?: string };
        answers.push({ status: response.status, at: performance.now(), retryAfter: response.headers.get('retry-after'), position: response.ok ? body.position : undefined, target, voter });
        if (response.status === 503) await new Promise((resolve) => setTimeout(resolve, 50));
      } catch {
        unanswered += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const running = Array.from({ length: senders }, (_, sender) => send(sender));
  return {
    answers,
    get unanswered() {
      return unanswered;
    },
    stop: async () => {
      sending = false;
      await Promise.all(running);
    },
  };
}

/** Every vote answered 2xx is in the log, at the position it was answered with, and its ballot holds it. */
export async function expectAnsweredVotesLogged(db: Kysely<Database>, projectId: string, answers: readonly Answer[]): Promise<number> {
  const acknowledged = answers.filter((answer) => answer.status >= 200 && answer.status < 300);
  const events = await db
    .selectFrom('vote_events')
    .select([sql<string>`transaction_id::text || '.' || global_position::text`.as('position'), 'target', 'voter', 'value'])
    .where('project_id', '=', projectId)
    .execute();
  const logged = new Map(events.map((event) => [event.position, event]));
  const missing = acknowledged.filter((answer) => {
    const event = answer.position === undefined ? undefined : logged.get(answer.position);
    return event === undefined || event.target !== answer.target || event.voter !== answer.voter || event.value !== 1;
  });
  expect(missing).toEqual([]);
  return missing.length;
}

/** The read model's like counts, as the API answers them, equal the ballots in the log. */
export async function expectTalliesToMatchBallots(db: Kysely<Database>, url: string, publicKey: string, projectId: string): Promise<void> {
  const rows = await db
    .selectFrom('ballots')
    .select(['target', (eb) => eb.fn.countAll<string>().as('count')])
    .where('project_id', '=', projectId)
    .where('poll', '=', 'likes')
    .where('value', '=', 1)
    .groupBy('target')
    .execute();
  const expected = Object.fromEntries(rows.map((row) => [row.target, Number(row.count)]));
  const actual: Record<string, number> = {};
  for (const target of Object.keys(expected)) {
    const response = await fetch(`${url}/v1/polls/likes/tallies/${target}`, { headers: { authorization: `Bearer ${publicKey}` } });
    actual[target] = ((await response.json()) as { count: number }).count;
  }
  expect(actual).toEqual(expected);
}
