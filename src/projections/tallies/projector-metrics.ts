import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ProjectorMetrics {
  readonly eventsApplied: Counter;
  readonly batchSize: Histogram;
  /** By partition: each partition's projector measures its own. */
  readonly lagEvents: Gauge<'partition'>;
  readonly lagSeconds: Gauge<'partition'>;
  readonly oldestTransactionSeconds: Gauge;
  /** 1 for each partition this process's projector leads. */
  readonly leading: Gauge<'partition'>;
}

export function createProjectorMetrics(registry: Registry): ProjectorMetrics {
  return {
    eventsApplied: new Counter({
      name: 'clickvote_projector_events_applied_total',
      help: 'Vote events folded into the tally read model',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'clickvote_projector_batch_size',
      help: 'Events per projector batch',
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000],
      registers: [registry],
    }),
    lagEvents: new Gauge({
      name: 'clickvote_projector_lag_events',
      help: 'Events in the log the read model (the partition, with PROJECTOR_PARTITIONS) has not applied yet (approximate)',
      labelNames: ['partition'],
      registers: [registry],
    }),
    lagSeconds: new Gauge({
      name: 'clickvote_projector_lag_seconds',
      help: 'Age of the oldest committed event the read model (the partition) has not applied yet; 0 when caught up',
      labelNames: ['partition'],
      registers: [registry],
    }),
    oldestTransactionSeconds: new Gauge({
      name: 'clickvote_projector_oldest_xact_age_seconds',
      help: 'Age of the oldest transaction holding a transaction id anywhere in the PostgreSQL cluster (prepared ones too); projection waits for it; 0 when none',
      registers: [registry],
    }),
    leading: new Gauge({
      name: 'clickvote_projector_leading',
      help: '1 while this process leads the partition (partition "0" without PROJECTOR_PARTITIONS), 0 once it let go',
      labelNames: ['partition'],
      registers: [registry],
    }),
  };
}

export interface RebuildMetrics {
  readonly running: Gauge;
  readonly eventsDone: Gauge;
  readonly eventsTotal: Gauge;
}

export function createRebuildMetrics(registry: Registry): RebuildMetrics {
  return {
    running: new Gauge({ name: 'clickvote_rebuild_running', help: '1 while this process runs a tally rebuild', registers: [registry] }),
    eventsDone: new Gauge({ name: 'clickvote_rebuild_events_done', help: 'Events the running rebuild has replayed', registers: [registry] }),
    eventsTotal: new Gauge({ name: 'clickvote_rebuild_events_total', help: 'Events the running rebuild will replay', registers: [registry] }),
  };
}
