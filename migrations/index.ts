import type { Migration } from 'kysely';
import * as createVoteLog from './2026-11-26T0900-create-vote-log.js';
import * as indexEventsByTime from './2026-11-26T1400-index-events-by-time.js';
import * as expireIdempotencyKeys from './2026-11-27T0645-expire-idempotency-keys.js';
import * as limitPollTargets from './2026-11-27T0710-limit-poll-targets.js';
import * as rebaseRestoredLog from './2026-11-27T0740-rebase-restored-log.js';
import * as projectorLeaderEpochs from './2026-11-27T0748-projector-leader-epochs.js';
import * as voterIntegrity from './2026-11-27T0800-voter-integrity.js';

/** Every migration, by name; names sort in the order they apply. Add new files here. */
export const migrations: Record<string, Migration> = {
  '2026-11-26T0900-create-vote-log': createVoteLog,
  '2026-11-26T1400-index-events-by-time': indexEventsByTime,
  '2026-11-27T0645-expire-idempotency-keys': expireIdempotencyKeys,
  '2026-11-27T0710-limit-poll-targets': limitPollTargets,
  '2026-11-27T0740-rebase-restored-log': rebaseRestoredLog,
  '2026-11-27T0748-projector-leader-epochs': projectorLeaderEpochs,
  '2026-11-27T0800-voter-integrity': voterIntegrity,
};
