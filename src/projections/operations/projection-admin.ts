import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { ClickvoteError } from '../../domain/errors.js';
import type { Database } from '../../platform/database.js';
import type { RedisClient } from '../../platform/redis.js';
import { measureLag, type ProjectionLag } from '../log-queries/projection-lag.js';
import { beginRebuild, type RebuildProgress, RebuildInProgressError, readRebuildProgress } from './rebuild.js';
import type { RebuildMetrics } from '../tallies/projector-metrics.js';
import { liveGeneration } from '../tallies/redis-tally-store.js';
import { partitionsOf } from '../tallies/partitions.js';
import type { TallyStore } from '../tallies/tally-store.js';

export interface ProjectionStatus {
  readonly name: 'tallies';
  readonly status: 'live' | 'rebuilding';
  readonly generation: number;
  /** The earliest of the partitions' checkpoints: the whole read model stands there. */
  readonly checkpoint: string | null;
  /** Each partition's checkpoint (one for the whole log without PROJECTOR_PARTITIONS). */
  readonly partitions: readonly { readonly index: number; readonly checkpoint: string | null }[];
  readonly head: string | null;
  readonly lag: { readonly events: number; readonly seconds: number };
  /** What keeps committed events from the projector, when something does. */
  readonly heldBackBy: ProjectionLag['heldBackBy'];
  readonly rebuild: RebuildProgress | null;
  /** False on the in-process read model, which a restart rebuilds: the dashboard offers no button. */
  readonly rebuildable: boolean;
}

/** What operators ask of the projections: how far behind they are, and a rebuild on demand. */
export interface ProjectionAdmin {
  status(): Promise<ProjectionStatus[]>;
  startRebuild(): Promise<{ generation: number }>;
}

interface Context {
  readonly db: Kysely<Database>;
  readonly store: TallyStore;
}

async function statusOf({ db, store }: Context, generation: number, rebuild: RebuildProgress | undefined, rebuildable: boolean): Promise<ProjectionStatus[]> {
  const [checkpoint, partitions] = await Promise.all([
    store.readCheckpoint(),
    Promise.all(partitionsOf(store.partitions).map(async ({ index }) => ({ index, checkpoint: (await store.readCheckpoint(index)) ?? null }))),
  ]);
  const { head, events, seconds, heldBackBy } = await measureLag(db, checkpoint);
  return [
    {
      name: 'tallies',
      status: rebuild === undefined ? 'live' : 'rebuilding',
      generation,
      checkpoint: checkpoint ?? null,
      partitions,
      head,
      lag: { events, seconds },
      heldBackBy,
      rebuild: rebuild ?? null,
      rebuildable,
    },
  ];
}

export function redisProjectionAdmin(
  context: Context & { redis: RedisClient; prefix: string; logger: Logger; batchSize: number; replicasToAcknowledge?: number; metrics?: RebuildMetrics },
): ProjectionAdmin {
  const { redis, prefix, logger, metrics } = context;
  return {
    status: async () => statusOf(context, await liveGeneration(redis, prefix), await readRebuildProgress(redis, prefix), true),
    startRebuild: async () => {
      try {
        const running = await beginRebuild({
          ...context,
          redis,
          prefix,
          logger,
          onProgress: (progress) => {
            metrics?.running.set(progress.status === 'rebuilding' ? 1 : 0);
            metrics?.eventsDone.set(progress.eventsDone);
            metrics?.eventsTotal.set(progress.eventsTotal);
          },
        });
        running.finished
          .catch((error: unknown) => logger.error({ err: error }, 'tally rebuild failed; run it again to resume'))
          .finally(() => metrics?.running.set(0));
        return { generation: (await liveGeneration(redis, prefix)) + 1 };
      } catch (error) {
        if (error instanceof RebuildInProgressError) throw new ClickvoteError('rebuild_in_progress', 'A rebuild is already running; see GET /v1/admin/projections.');
        throw error;
      }
    },
  };
}

/** The embedded read model lives in this process and is rebuilt from the log at every start. */
export function inProcessProjectionAdmin(context: Context): ProjectionAdmin {
  return {
    status: () => statusOf(context, 1, undefined, false),
    startRebuild: async () => {
      throw new ClickvoteError('rebuild_unavailable', 'The in-process read model is rebuilt from the log at every start; restart the service to rebuild it.');
    },
  };
}
