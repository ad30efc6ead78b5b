import type { VoteCommand } from '../../domain/vote-command.js';
import { ClickvoteError } from '../../domain/errors.js';
import type { MemoryTallyStore } from './memory-tally-store.js';

/**
 * The ceiling of the embedded read model, which lives in the heap: about 1 KB per target and
 * 140 bytes per ballot with short ids, 1.2 KB and 320 bytes with 256-character ones.
 */
export interface EmbeddedCeiling {
  readonly maxTargets: number;
  readonly maxBallots: number;
}

/**
 * Refuses a vote that would add a target or a ballot past the ceiling, so a flood of new ids
 * meets a clear 507 long before the heap limit. Votes on what the store holds still count. The
 * store is read as projected, so votes in flight can pass the ceiling by a batch or so.
 */
export function embeddedCapacityCheck(store: MemoryTallyStore, ceiling: EmbeddedCeiling): (command: VoteCommand) => void {
  return (command) => {
    if (command.value === 0) return;
    const size = store.size();
    if (size.targets < ceiling.maxTargets && size.ballots < ceiling.maxBallots) return;
    const held = store.holds(command, command.voter);
    if (!held.target && size.targets >= ceiling.maxTargets) throw full(`${ceiling.maxTargets} targets`, 'EMBEDDED_MAX_TARGETS');
    if (!held.ballot && size.ballots >= ceiling.maxBallots) throw full(`${ceiling.maxBallots} ballots`, 'EMBEDDED_MAX_BALLOTS');
  };
}

const full = (what: string, variable: string) =>
  new ClickvoteError(
    'read_model_full',
    `The embedded read model holds its ceiling of ${what} (${variable}); votes on what it holds still count. Run with DATABASE_URL and REDIS_URL to grow past it.`,
  );
