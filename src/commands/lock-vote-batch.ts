import { type RawBuilder, sql } from 'kysely';
import { ballotIdOf, idempotencyIdOf, pollIdOf, tallyIdOf } from '../domain/identity-keys.js';
import type { PollDefinition, PollKind } from '../domain/poll.js';
import { advisoryLockKey, inLockOrder } from '../platform/advisory-locks.js';
import { type BatchState, hasIdempotencyKey, type StoredBallot, type StoredIdempotencyKey } from './vote-batch.js';
import type { VoteCommand, VoteResult } from '../domain/vote-command.js';

/**
 * What lock_vote_batch returns, one kind of row at a time: each kind fills its own columns and
 * leaves the others null (see the function in migrations/2026-11-27T0710-limit-poll-targets).
 */
export type LockedRow = PollRow | TargetRow | BallotRow | KeyRow;

interface PollRow {
  row_kind: 'poll';
  project_id: string;
  poll: string;
  poll_kind: PollKind;
  min_value: number;
  max_value: number;
  archived: boolean;
  max_targets: number | null;
  /** Kept only while the poll has a cap. */
  target_count: number | null;
}

interface TargetRow {
  row_kind: 'target';
  project_id: string;
  poll: string;
  target: string;
}

interface BallotRow {
  row_kind: 'ballot';
  project_id: string;
  poll: string;
  target: string;
  voter: string;
  value: number;
  version: number;
  last_position: string;
}

interface KeyRow {
  row_kind: 'key';
  project_id: string;
  key: string;
  request_hash: string;
  result: VoteResult;
}

/**
 * Every appender locks polls (shared), then ballots and keys, then (only where a poll with a
 * target limit may gain a target) the poll's targets, each in one fixed order.
 */
export function lockAndReadStatement(commands: readonly VoteCommand[], keyTtl: RawBuilder<unknown>): RawBuilder<LockedRow> {
  const polls = uniqueBy(commands, pollIdOf);
  const ballots = uniqueBy(commands, ballotIdOf);
  const keyed = uniqueBy(commands.filter(hasIdempotencyKey), idempotencyIdOf);
  const pollLocks = inLockOrder(polls.map((c) => advisoryLockKey('poll', c.projectId, c.poll)));
  const ballotLocks = inLockOrder([
    ...ballots.map((c) => advisoryLockKey('ballot', c.projectId, c.poll, c.target, c.voter)),
    ...keyed.map((c) => advisoryLockKey('idempotency-key', c.projectId, c.idempotencyKey)),
  ]);
  return sql<LockedRow>`
    select * from lock_vote_batch(
      ${pollLocks}::bigint[], ${ballotLocks}::bigint[],
      ${polls.map((c) => c.projectId)}::uuid[], ${polls.map((c) => c.poll)}::text[],
      ${polls.map((c) => advisoryLockKey('poll-targets', c.projectId, c.poll))}::bigint[],
      ${ballots.map((c) => c.projectId)}::uuid[], ${ballots.map((c) => c.poll)}::text[],
      ${ballots.map((c) => c.target)}::text[], ${ballots.map((c) => c.voter)}::text[],
      ${keyed.map((c) => c.projectId)}::uuid[], ${keyed.map((c) => c.idempotencyKey)}::text[], ${keyTtl}
    )
  `;
}

/** What the locked rows say about the batch: its polls, ballots, idempotency keys and targets. */
export function toBatchState(rows: readonly LockedRow[]): BatchState {
  const polls = new Map<string, PollDefinition>();
  const ballots = new Map<string, StoredBallot>();
  const idempotencyKeys = new Map<string, StoredIdempotencyKey>();
  const targetCounts = new Map<string, number>();
  const knownTargets = new Set<string>();
  for (const row of rows) {
    const projectId = row.project_id;
    switch (row.row_kind) {
      case 'poll': {
        const pollId = pollIdOf({ projectId, poll: row.poll });
        polls.set(pollId, { name: row.poll, kind: row.poll_kind, min: row.min_value, max: row.max_value, archived: row.archived, maxTargets: row.max_targets });
        if (row.target_count !== null) targetCounts.set(pollId, row.target_count);
        break;
      }
      case 'target':
        knownTargets.add(tallyIdOf({ projectId, poll: row.poll, target: row.target }));
        break;
      case 'ballot':
        ballots.set(ballotIdOf({ projectId, poll: row.poll, target: row.target, voter: row.voter }), { value: row.value, version: row.version, position: row.last_position });
        break;
      case 'key':
        idempotencyKeys.set(idempotencyIdOf({ projectId, idempotencyKey: row.key }), { requestHash: row.request_hash, result: row.result });
        break;
    }
  }
  return { polls, ballots, idempotencyKeys, targetCounts, knownTargets };
}

function uniqueBy<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [keyOf(item), item])).values()];
}
