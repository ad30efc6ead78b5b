import type { Kysely } from 'kysely';
import { PollCache } from '../../catalog/poll-cache.js';
import { formatPosition, type LogPosition } from '../../domain/position.js';
import type { Database } from '../../platform/database.js';
import type { RedisClient } from '../../platform/redis.js';
import { streamLatestBallots } from '../log-queries/latest-ballots.js';
import { readCommitSafeHead } from '../log-queries/log-reader.js';
import { RedisBulkWriter } from '../tallies/redis-bulk-writer.js';
import type { RedisKeys } from '../tallies/redis-keys.js';
import { foldLatestBallots } from '../tallies/tally-projection.js';

export interface BulkLoadOptions {
  readonly db: Kysely<Database>;
  readonly redis: RedisClient;
  /** The generation to fill: nothing of it may exist yet. */
  readonly keys: RedisKeys;
  readonly targetsPerFetch: number;
  /** Told after each chunk of ballots is folded: how many events they stand for. */
  readonly onEvents?: (events: number) => void;
}

/**
 * Fills a new generation from the log in one ordered pass, not event by event: picks the last
 * commit-safe event C, streams each ballot's latest event at or before C target by target, folds
 * each target's ballots into its tally, voters and rank scores, and writes them in bulk, every
 * poll's checkpoint at C. Events at or before C are committed for good and none can commit among
 * them later, so the projector carries on from C. Returns C (undefined: an empty log), which the
 * caller writes as the generation's checkpoint once this returns: until then the load is unfinished.
 */
export async function loadGenerationInBulk(options: BulkLoadOptions): Promise<LogPosition | undefined> {
  const { db, redis, keys } = options;
  const upTo = await readCommitSafeHead(db);
  if (upTo === undefined) return undefined;
  const polls = new PollCache(db);
  const writer = new RedisBulkWriter(redis, keys, formatPosition(upTo));
  await streamLatestBallots(db, upTo, options.targetsPerFetch, async (rows) => {
    let events = 0;
    for (const row of rows) {
      const key = { projectId: row.project_id, poll: row.poll, target: row.target };
      await polls.loadRules([key]);
      await writer.write(foldLatestBallots(key, row.ballots, polls.rulesOf(key)));
      events += row.events;
    }
    options.onEvents?.(events);
  });
  await writer.finish();
  return upTo;
}
