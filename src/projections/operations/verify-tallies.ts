import type { Kysely } from 'kysely';
import { pollIdOf, type TallyKey, tallyIdOf } from '../../domain/identity-keys.js';
import { comparePositions, formatPosition, type LogPosition, parsePosition } from '../../domain/position.js';
import { emptyTally, type Tally } from '../../domain/tally.js';
import type { Database } from '../../platform/database.js';
import { type RedisClient, scanKeys } from '../../platform/redis.js';
import { isBeyondThisLog, readLogHead } from '../log-queries/log-reader.js';
import { measureLag, type ProjectionLag } from '../log-queries/projection-lag.js';
import { recomputeTallies } from '../log-queries/recompute-tallies.js';
import { RedisKeys } from '../tallies/redis-keys.js';
import { readPoll } from '../tallies/redis-poll-reads.js';
import { earliestCheckpoint } from '../tallies/partitions.js';
import { generationKeys, liveGeneration } from '../tallies/redis-tally-store.js';

export interface TallyDifference {
  readonly key: TallyKey;
  readonly expected: Tally;
  readonly actual: Tally;
}

export interface VerifyReport {
  readonly generation: number;
  readonly checkpoint: string | undefined;
  /** The newest committed event when verify began: the read model must reach it. */
  readonly head: string | undefined;
  /** How far the read model still trailed that head when verify stopped waiting; undefined once it reached it. */
  readonly behind: ProjectionLag | undefined;
  /** The checkpoint lies beyond this database's transactions: the read model was built from another copy of the log. */
  readonly fromAnotherLog: boolean;
  readonly checked: number;
  readonly differences: TallyDifference[];
}

/**
 * Compares the live Redis generation with the whole log: it must reach the newest event committed
 * when verify began (waiting up to `waitMs` for the projector to get there), and every tally must
 * equal the one recomputed from the log in SQL. Each side is taken at the same place in the log
 * (the projection's checkpoint, or a tally's own when the projector moved it meanwhile), so a busy
 * service verifies as cleanly as a quiet one. Differences are computed even when it is behind.
 */
export async function verifyTallies(db: Kysely<Database>, redis: RedisClient, prefix: string, options: { waitMs?: number } = {}): Promise<VerifyReport> {
  const head = (await readLogHead(db))?.position;
  const { generation, checkpoint, upTo } = await waitForHead(redis, prefix, head, Date.now() + (options.waitMs ?? 0));
  const base = { generation, checkpoint, head: head === undefined ? undefined : formatPosition(head) };
  if (upTo !== undefined && (await isBeyondThisLog(db, upTo))) return { ...base, behind: undefined, fromAnotherLog: true, checked: 0, differences: [] };
  const behind = reached(upTo, head) ? undefined : await measureLag(db, checkpoint);
  const stored = await readStoredTallies(redis, new RedisKeys(prefix, generation));
  const expected = upTo === undefined ? new Map() : await recomputeTallies(db, { upTo });
  const differences: TallyDifference[] = [];
  for (const [id, { key, tally, at }] of stored) {
    const movedOn = at !== undefined && upTo !== undefined && comparePositions(at, upTo) > 0;
    const want = movedOn ? ((await recomputeTallies(db, { ...key, upTo: at })).get(id)?.tally ?? emptyTally) : (expected.get(id)?.tally ?? emptyTally);
    if (!sameTally(want, tally)) differences.push({ key, expected: want, actual: tally });
  }
  for (const [id, { key, tally }] of expected) {
    if (!stored.has(id) && tally.count > 0) differences.push({ key, expected: tally, actual: emptyTally });
  }
  const checked = new Set([...stored.keys(), ...expected.keys()]).size;
  return { ...base, behind, fromAnotherLog: false, checked, differences };
}

async function waitForHead(redis: RedisClient, prefix: string, head: LogPosition | undefined, deadline: number) {
  for (;;) {
    const generation = await liveGeneration(redis, prefix);
    // Split into partitions, the read model stands where the slowest one does.
    const checkpoints = await Promise.all((await generationKeys(redis, prefix, generation)).checkpoints().map((key) => redis.get(key)));
    const upTo = earliestCheckpoint(checkpoints.map((checkpoint) => (checkpoint === null ? undefined : parsePosition(checkpoint))), comparePositions);
    const checkpoint = upTo === undefined ? undefined : formatPosition(upTo);
    if (reached(upTo, head) || Date.now() >= deadline) return { generation, checkpoint, upTo };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const reached = (checkpoint: LogPosition | undefined, head: LogPosition | undefined) =>
  head === undefined || (checkpoint !== undefined && comparePositions(checkpoint, head) >= 0);

/** Every tally of the generation, each read with its poll's checkpoint (where it stands in the log). */
async function readStoredTallies(redis: RedisClient, keys: RedisKeys) {
  const stored = new Map<string, { key: TallyKey; tally: Tally; at: LogPosition | undefined }>();
  for await (const batch of scanKeys(redis, keys.tallyPattern())) {
    const byPoll = new Map<string, TallyKey[]>();
    for (const key of batch.map((name) => keys.parseTallyKey(name))) {
      if (key !== undefined) byPoll.set(pollIdOf(key), [...(byPoll.get(pollIdOf(key)) ?? []), key]);
    }
    for (const tallyKeys of byPoll.values()) {
      const reading = await readPoll(redis, keys, tallyKeys[0]!, tallyKeys.map((key) => key.target));
      const at = reading.checkpoint === undefined ? undefined : parsePosition(reading.checkpoint);
      tallyKeys.forEach((key, index) => stored.set(tallyIdOf(key), { key, tally: reading.tallies[index] ?? emptyTally, at }));
    }
  }
  return stored;
}

function sameTally(a: Tally, b: Tally): boolean {
  const histogram = (t: Tally) => JSON.stringify(Object.entries(t.histogram).sort(([x], [y]) => Number(x) - Number(y)));
  return a.count === b.count && a.sum === b.sum && a.up === b.up && a.down === b.down && histogram(a) === histogram(b);
}
