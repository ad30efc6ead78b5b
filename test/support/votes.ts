import type { Kysely } from 'kysely';
import { expect, vi } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import type { VoteAppender } from '../../src/commands/vote-appender.js';
import { tallyIdOf } from '../../src/domain/identity-keys.js';
import { comparePositions, parsePosition } from '../../src/domain/position.js';
import { emptyTally } from '../../src/domain/tally.js';
import type { Database } from '../../src/platform/database.js';
import { readLogHead } from '../../src/projections/log-queries/log-reader.js';
import type { Projector } from '../../src/projections/tallies/projector.js';
import { recomputeTallies } from '../../src/projections/log-queries/recompute-tallies.js';
import type { TallyStore } from '../../src/projections/tallies/tally-store.js';

export const testPolls = { likes: [0, 1], votes: [-1, 0, 1], stars: [0, 1, 2, 3, 4, 5] } as const;

/** Random votes over a few targets and voters, so casts, changes and retractions all happen. */
export async function castRandomVotes(appender: VoteAppender, projectId: string, count: number, targets = 6, voters = 12): Promise<void> {
  const polls = Object.entries(testPolls);
  await Promise.all(
    Array.from({ length: count }, () => {
      const [poll, values] = polls[Math.floor(Math.random() * polls.length)]!;
      return castVote(appender, {
        projectId,
        poll,
        target: `t${Math.floor(Math.random() * targets)}`,
        voter: `v${Math.floor(Math.random() * voters)}`,
        value: values[Math.floor(Math.random() * values.length)]!,
      });
    }),
  );
}

/** Every tally of the project in the read model equals the one recomputed from the log in SQL. */
export async function expectTalliesToMatchLog(db: Kysely<Database>, store: TallyStore, projectId: string, targets = 6): Promise<void> {
  const expected = await recomputeTallies(db, projectId);
  for (const poll of Object.keys(testPolls)) {
    const names = Array.from({ length: targets }, (_, i) => `t${i}`);
    const readings = await store.readTallies({ projectId, poll }, names);
    const actual = Object.fromEntries(names.map((target, i) => [target, readings[i]!.tally]));
    const wanted = Object.fromEntries(names.map((target) => [target, expected.get(tallyIdOf({ projectId, poll, target }))?.tally ?? emptyTally]));
    expect({ poll, tallies: actual }).toEqual({ poll, tallies: wanted });
  }
}

/**
 * Catches the projector up until its checkpoint reaches the newest committed event. One catch-up
 * is not enough on a shared server: it stops below any transaction still running there, in any
 * database (another test file's migration, say), and the rest waits for the next one.
 */
export async function projectToHead(db: Kysely<Database>, projector: Projector, store: TallyStore): Promise<void> {
  const head = await readLogHead(db);
  if (head === undefined) return;
  await vi.waitFor(
    async () => {
      await projector.catchUp();
      const checkpoint = parsePosition((await store.readCheckpoint()) ?? '');
      expect(checkpoint !== undefined && comparePositions(checkpoint, head.position) >= 0).toBe(true);
    },
    { timeout: 30_000, interval: 50 },
  );
}
