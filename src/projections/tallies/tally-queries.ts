import type { PollCache } from '../../catalog/poll-cache.js';
import type { PollView } from '../../catalog/polls.js';
import { ClickvoteError } from '../../domain/errors.js';
import { aPollOf, pollNotFound } from '../../domain/poll.js';
import { type RankOrder, rankOrdersFor } from '../../domain/ranking.js';
import type { Tally } from '../../domain/tally.js';
import type { ProjectionProgress } from './projection-progress.js';
import type { TallyStore } from './tally-store.js';
import { type TallyView, toTallyView } from './tally-view.js';

export interface TallyQueryOptions {
  /** Wakes `minPosition` readers as the projector moves on. */
  readonly progress: ProjectionProgress;
}

/** The read side's questions: single tallies (optionally read-your-writes), batches and top lists. */
export class TallyQueries {
  constructor(
    private readonly polls: PollCache,
    private readonly store: TallyStore,
    private readonly options: TallyQueryOptions,
  ) {}

  async tallies(projectId: string, pollName: string, targets: readonly string[], voter?: string): Promise<TallyView[]> {
    const poll = await this.pollOf(projectId, pollName);
    const { checkpoint, value: readings } = await this.store.readTalliesWithCheckpoint({ projectId, poll: pollName }, targets, voter);
    return readings.map((reading, index) => toView(poll, targets[index]!, reading.tally, checkpoint, reading.voterValue));
  }

  /** Waits until the read model has applied `minPosition` (a token a vote returned), up to `waitMs`. */
  waitForPosition(minPosition: string, waitMs: number): Promise<void> {
    return this.options.progress.waitFor(minPosition, waitMs);
  }

  async top(projectId: string, pollName: string, order: RankOrder, limit: number): Promise<TallyView[]> {
    const poll = await this.pollOf(projectId, pollName);
    if (!rankOrdersFor(poll).includes(order)) {
      throw new ClickvoteError('validation_failed', `${aPollOf(poll.kind, true)} cannot be ranked by ${order}.`, [
        { field: 'order', message: `must be one of ${rankOrdersFor(poll).join(', ')} for ${aPollOf(poll.kind)}` },
      ]);
    }
    const { checkpoint, value: ranked } = await this.store.readTopWithCheckpoint({ projectId, poll: pollName }, order, limit);
    return ranked.map((entry) => toView(poll, entry.target, entry.tally, checkpoint));
  }

  private async pollOf(projectId: string, name: string): Promise<PollView> {
    const poll = await this.polls.find({ projectId, poll: name });
    if (poll === undefined) throw pollNotFound(name);
    return poll;
  }
}

function toView(poll: PollView, target: string, tally: Tally, position: string | undefined, voterValue?: number): TallyView {
  return { ...toTallyView(poll, target, tally), ...(voterValue === undefined ? {} : { voterValue }), position: position ?? null };
}
