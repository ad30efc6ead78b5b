import { type Kysely, sql } from 'kysely';
import { type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { Database } from '../../platform/database.js';
import { type BallotScope, latestBallots } from './latest-ballots.js';

/**
 * Every tally computed straight from the log in SQL: each ballot's latest event, grouped. The
 * read model must always equal this; tests and `verify` compare against it.
 */
export async function recomputeTallies(db: Kysely<Database>, scope: BallotScope | string = {}): Promise<Map<string, { key: TallyKey; tally: Tally }>> {
  const { rows } = await sql<{ project_id: string; poll: string; target: string; value: number; ballots: string }>`
    with latest as (${latestBallots(typeof scope === 'string' ? { projectId: scope } : scope)})
    select project_id, poll, target, value, count(*)::text as ballots
    from latest where value <> 0
    group by project_id, poll, target, value
  `.execute(db);
  const tallies = new Map<string, { key: TallyKey; tally: Tally }>();
  for (const row of rows) {
    const key = { projectId: row.project_id, poll: row.poll, target: row.target };
    const id = tallyIdOf(key);
    const before = tallies.get(id)?.tally ?? emptyTally;
    const ballots = Number(row.ballots);
    tallies.set(id, {
      key,
      tally: {
        count: before.count + ballots,
        sum: before.sum + row.value * ballots,
        up: before.up + (row.value > 0 ? ballots : 0),
        down: before.down + (row.value < 0 ? ballots : 0),
        histogram: { ...before.histogram, [row.value]: ballots },
      },
    });
  }
  return tallies;
}
