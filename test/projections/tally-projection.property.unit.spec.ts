import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { definePollRules } from '../../src/domain/poll.js';
import { applyBallotChange, emptyTally, type Tally } from '../../src/domain/tally.js';
import type { LoggedVote } from '../../src/projections/log-queries/log-reader.js';
import { MemoryTallyStore } from '../../src/projections/tallies/memory-tally-store.js';
import { foldTallies, uniqueTallyKeys } from '../../src/projections/tallies/tally-projection.js';
import type { TallyStore } from '../../src/projections/tallies/tally-store.js';

const projectId = '00000000-0000-4000-8000-000000000001';
const rules = definePollRules('rating', 1, 5);
const targets = ['a', 'b', 'c', 'd'];

/** A valid log from random intents: each event carries the ballot's previous value. */
function logOf(intents: { target: number; voter: number; value: number }[]): LoggedVote[] {
  const ballots = new Map<string, number>();
  const events: LoggedVote[] = [];
  intents.forEach(({ target, voter, value }, index) => {
    const key = `${target}/${voter}`;
    const previous = ballots.get(key) ?? 0;
    if (previous === value) return;
    ballots.set(key, value);
    events.push({
      position: { transactionId: BigInt(1000 + Math.floor(index / 3)), globalPosition: BigInt(index + 1) },
      projectId,
      poll: 'stars',
      target: targets[target]!,
      voter: `v${voter}`,
      value,
      previous,
      recordedAtMs: 0,
    });
  });
  return events;
}

async function project(store: TallyStore, events: readonly LoggedVote[], batchSizes: number[], talliesPerChange: number): Promise<void> {
  let at = 0;
  for (let i = 0; at < events.length; i += 1) {
    const batch = events.slice(at, at + batchSizes[i % batchSizes.length]!);
    at += batch.length;
    const changes = foldTallies(batch, await store.loadTallies(uniqueTallyKeys(batch)), () => rules, talliesPerChange);
    const last = batch.at(-1)!.position;
    await store.applyChanges(changes, { from: await store.readCheckpoint(), to: `${last.transactionId}.${last.globalPosition}` });
  }
}

function plainFold(events: readonly LoggedVote[]): Record<string, Tally> {
  const tallies: Record<string, Tally> = Object.fromEntries(targets.map((target) => [target, emptyTally]));
  for (const event of events) tallies[event.target] = applyBallotChange(tallies[event.target]!, event.previous, event.value);
  return tallies;
}

async function readAll(store: TallyStore): Promise<Record<string, Tally>> {
  const readings = await store.readTallies({ projectId, poll: 'stars' }, targets);
  return Object.fromEntries(targets.map((target, i) => [target, readings[i]!.tally]));
}

describe('the tally projection', () => {
  it('equals a plain fold for any votes, batch sizes and cuts of a poll into changes, and a second run changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ target: fc.nat(3), voter: fc.nat(6), value: fc.nat(5) }), { maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 5 }),
        async (intents, batchSizes, replayBatchSizes, talliesPerChange) => {
          const events = logOf(intents);
          const store = new MemoryTallyStore();
          await project(store, events, batchSizes, talliesPerChange);
          expect(await readAll(store)).toEqual(plainFold(events));
          await project(store, events, replayBatchSizes, talliesPerChange);
          expect(await readAll(store)).toEqual(plainFold(events));
        },
      ),
      { numRuns: 300 },
    );
  });
});
