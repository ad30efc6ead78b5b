import { Counter, Histogram, type Registry } from 'prom-client';

export interface AppendMetrics {
  readonly votesAppended: Counter<'kind' | 'type'>;
  readonly batchSize: Histogram;
  readonly batchSeconds: Histogram;
}

export function createAppendMetrics(registry: Registry): AppendMetrics {
  return {
    votesAppended: new Counter({
      name: 'clickvote_votes_appended_total',
      help: 'Vote events appended to the log, by poll kind and event type',
      labelNames: ['kind', 'type'],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'clickvote_append_batch_size',
      help: 'Commands per group-commit batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'clickvote_append_batch_duration_seconds',
      help: 'Time to append one group-commit batch, retries included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
  };
}
