import type { ClickvoteError } from './errors.js';

/** One cast, change or retraction (value 0) as it reaches the append path. */
export interface VoteCommand {
  readonly projectId: string;
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  readonly value: number;
  readonly idempotencyKey: string | undefined;
  /** Ids and time come in on the command; the event gets them if the vote changes anything. */
  readonly eventId: string;
  readonly now: Date;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface VoteResult {
  readonly poll: string;
  readonly target: string;
  readonly voter: string;
  readonly value: number;
  readonly previous: number;
  readonly changed: boolean;
  /** Consistency token of the ballot's latest event; null when the ballot has none. */
  readonly position: string | null;
}

export interface VoteReceipt {
  readonly result: VoteResult;
  /** True when an Idempotency-Key matched an earlier request and this is its first answer again. */
  readonly replayed: boolean;
}

/** A refused command carries a ClickvoteError; one the database failed carries the database's error. */
export type VoteOutcome = { readonly ok: true; readonly receipt: VoteReceipt } | { readonly ok: false; readonly error: ClickvoteError | Error };
