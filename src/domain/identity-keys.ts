/**
 * The identities the service groups, locks and caches by, and the one string each maps to. Ids
 * are joined with NUL, which no id may contain (identifiers.ts), so no two identities share one.
 */
export interface PollKey {
  readonly projectId: string;
  readonly poll: string;
}

/** Which tally an event moves: one per (project, poll, target). */
export interface TallyKey extends PollKey {
  readonly target: string;
}

/** One voter's ballot on one target: its events form one stream. */
export interface BallotKey extends TallyKey {
  readonly voter: string;
}

export interface IdempotencyKeyRef {
  readonly projectId: string;
  readonly idempotencyKey: string;
}

// Template strings, not an array joined: the projector computes these for every event it folds.
export const pollIdOf = (key: PollKey) => `${key.projectId}\u0000${key.poll}`;
export const tallyIdOf = (key: TallyKey) => `${key.projectId}\u0000${key.poll}\u0000${key.target}`;
export const ballotIdOf = (key: BallotKey) => `${key.projectId}\u0000${key.poll}\u0000${key.target}\u0000${key.voter}`;
export const idempotencyIdOf = (key: IdempotencyKeyRef) => `${key.projectId}\u0000${key.idempotencyKey}`;

/** Just the key's fields: a TallyKey taken from a wider record (an event, an update) holds nothing else. */
export const pickTallyKey = (key: TallyKey): TallyKey => ({ projectId: key.projectId, poll: key.poll, target: key.target });
export const pickPollKey = (key: PollKey): PollKey => ({ projectId: key.projectId, poll: key.poll });
