import { timeOrderedEventId } from './event-id.js';
import type { VoteAppender } from './vote-appender.js';
import type { VoteReceipt } from '../domain/vote-command.js';

export interface CastVoteInput {
  readonly projectId: string;
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  readonly value: number;
  readonly idempotencyKey?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Casts, changes or (value 0) retracts a vote. The clock and the event id are read here, not in the domain. */
export function castVote(appender: VoteAppender, input: CastVoteInput, now = new Date()): Promise<VoteReceipt> {
  return appender.submit({
    projectId: input.projectId,
    poll: input.poll,
    target: input.target,
    voter: input.voter,
    value: input.value,
    idempotencyKey: input.idempotencyKey,
    eventId: timeOrderedEventId(now),
    now,
    metadata: input.metadata ?? {},
  });
}
