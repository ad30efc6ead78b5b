import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { BallotEvent } from '../domain/ballot.js';
import { pollIdOf } from '../domain/identity-keys.js';
import type { PollKind } from '../domain/poll.js';
import { formatPosition } from '../domain/position.js';
import { type Database, isConnectionLost } from '../platform/database.js';
import { positionColumns, positionFromColumns, positionTokenSql } from '../platform/log-order.js';
import { inTwoStatementTransaction, type TwoStatementTransaction } from '../platform/two-statement-transaction.js';
import { lockAndReadStatement, toBatchState } from './lock-vote-batch.js';
import { type BallotToSave, type BatchPlan, planBatch } from './vote-batch.js';
import type { VoteCommand, VoteOutcome } from '../domain/vote-command.js';

export interface AppendOptions {
  /** How many times a batch is tried when it loses a race (unique violation, deadlock, serialization). */
  readonly maxAttempts: number;
  /** Told of every event appended, once its transaction has committed. */
  readonly onAppended?: (kind: PollKind, type: BallotEvent['type']) => void;
  /** How long an Idempotency-Key is honoured; an older one is a new request. */
  readonly idempotencyKeyTtlSeconds: number;
}

export const newVotesChannel = 'clickvote_votes';

const retryableCodes = new Set(['23505', '40001', '40P01']);

/**
 * Appends a batch of vote commands in one transaction of two statements (lock and read, then
 * write; two round trips on PostgreSQL) and answers each command separately. A batch that fails for a reason no retry can fix
 * is split, so a bad command fails alone; one that keeps losing its connection fails whole.
 */
export async function appendVoteBatch(
  db: Kysely<Database>,
  commands: readonly VoteCommand[],
  options: AppendOptions,
): Promise<VoteOutcome[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { outcomes, appended } = await inTwoStatementTransaction(db, (tx) => appendInTransaction(tx, commands, options.idempotencyKeyTtlSeconds));
      for (const event of appended) options.onAppended?.(event.kind, event.type);
      return outcomes;
    } catch (error) {
      // A lost connection is tried again too: if its commit did land, the retry decides every
      // command against the state it left, so nothing is appended twice.
      const lost = isConnectionLost(error);
      const retryable = lost || retryableCodes.has(databaseErrorCode(error) ?? '');
      if (retryable && attempt < options.maxAttempts) {
        await sleep(Math.random() * 5 * attempt);
        continue;
      }
      // Without a database, splitting would only fail each command on its own connection attempt.
      if (commands.length === 1 || lost) throw error;
      // Settled one by one: a command that still fails must not take its neighbours' answers with it.
      const settled = await Promise.allSettled(commands.map((command) => appendVoteBatch(db, [command], options)));
      return settled.flatMap((outcome): VoteOutcome[] => (outcome.status === 'fulfilled' ? outcome.value : [{ ok: false, error: outcome.reason }]));
    }
  }
}

async function appendInTransaction(tx: TwoStatementTransaction, commands: readonly VoteCommand[], keyTtlSeconds: number) {
  const keyTtl = sql`${keyTtlSeconds}::int * interval '1 second'`;
  const state = toBatchState(await tx.first(lockAndReadStatement(commands, keyTtl)));
  const plan = planBatch(commands, state);
  const written = await tx.last(writeStatement(plan, keyTtl));
  const positions = new Map(written.map((row) => [row.event_id, formatPosition(positionFromColumns(row))]));
  const appended = plan.events.map(({ command, event }) => ({ kind: state.polls.get(pollIdOf(command))!.kind, type: event.type }));
  return { outcomes: plan.outcomes((eventId) => positions.get(eventId)!), appended };
}

/**
 * The whole write of a batch in one statement: events in arrival order (so a ballot's versions
 * follow its positions), the ballots they move, and the first answer to each idempotency key.
 * Undefined when the batch writes nothing.
 */
function writeStatement(plan: BatchPlan, keyTtl: RawBuilder<unknown>): RawBuilder<{ event_id: string; tx: string; pos: string }> | undefined {
  if (plan.events.length === 0 && plan.idempotencyKeys.length === 0) return undefined;
  const e = plan.events;
  const k = plan.idempotencyKeys;
  return sql<{ event_id: string; tx: string; pos: string }>`
    with new_events as (
      insert into vote_events
        (event_id, project_id, poll, target, voter, stream_version, type, value, previous, metadata, recorded_at, idempotency_key)
      select event_id, project_id, poll, target, voter, stream_version, type, value, previous, metadata::jsonb, recorded_at, idempotency_key
      from unnest(
        ${e.map((x) => x.command.eventId)}::uuid[], ${e.map((x) => x.command.projectId)}::uuid[],
        ${e.map((x) => x.command.poll)}::text[], ${e.map((x) => x.command.target)}::text[],
        ${e.map((x) => x.command.voter)}::text[], ${e.map((x) => x.streamVersion)}::int[],
        ${e.map((x) => x.event.type)}::text[], ${e.map((x) => (x.event.type === 'VoteCast' ? x.event.value : 0))}::int[],
        ${e.map((x) => x.event.previous)}::int[], ${e.map((x) => JSON.stringify(x.command.metadata))}::text[],
        ${e.map((x) => x.command.now.toISOString())}::timestamptz[], ${e.map((x) => x.command.idempotencyKey ?? null)}::text[]
      ) with ordinality as e(event_id, project_id, poll, target, voter, stream_version, type, value, previous, metadata, recorded_at, idempotency_key, arrival)
      order by arrival
      returning event_id, transaction_id, global_position
    ),
    inserted_ballots as (
      insert into ballots (project_id, poll, target, voter, value, version, last_transaction_id, last_global_position, updated_at)
      select s.project_id, s.poll, s.target, s.voter, s.value, s.version, e.transaction_id, e.global_position, s.updated_at
      from ${ballotColumns(plan.ballots.filter((ballot) => !ballot.stored))} join new_events e on e.event_id = s.last_event_id
    ),
    updated_ballots as (
      update ballots b set value = s.value, version = s.version, last_transaction_id = e.transaction_id,
        last_global_position = e.global_position, updated_at = s.updated_at
      from ${ballotColumns(plan.ballots.filter((ballot) => ballot.stored))} join new_events e on e.event_id = s.last_event_id
      where (b.project_id, b.poll, b.target, b.voter) = (s.project_id, s.poll, s.target, s.voter)
    ),
    saved_keys as (
      insert into idempotency_keys (project_id, key, request_hash, result)
      select s.project_id, s.key, s.request_hash,
        s.result::jsonb || jsonb_build_object('position', coalesce(${positionTokenSql('e')}, s.position_token))
      from unnest(
        ${k.map((x) => x.command.projectId)}::uuid[], ${k.map((x) => x.command.idempotencyKey)}::text[],
        ${k.map((x) => x.requestHash)}::text[], ${k.map((x) => JSON.stringify(x.result))}::text[],
        ${k.map((x) => ('eventId' in x.position ? x.position.eventId : null))}::uuid[],
        ${k.map((x) => ('token' in x.position ? x.position.token : null))}::text[]
      ) as s(project_id, key, request_hash, result, position_event_id, position_token)
      left join new_events e on e.event_id = s.position_event_id
      where true -- ends the join, so "on conflict" below is not read as a join condition
      -- The batch read this key as absent while holding its lock: any row still here has expired.
      on conflict (project_id, key) do update
        set request_hash = excluded.request_hash, result = excluded.result, created_at = excluded.created_at
        where idempotency_keys.created_at <= now() - ${keyTtl}
    ),
    counted_targets as (
      update polls p set target_count = p.target_count + s.added
      from unnest(
        ${plan.targetsAdded.map((x) => x.projectId)}::uuid[], ${plan.targetsAdded.map((x) => x.poll)}::text[],
        ${plan.targetsAdded.map((x) => x.added)}::int[]
      ) as s(project_id, poll, added)
      where p.project_id = s.project_id and p.name = s.poll
    ),
    -- Delivered at commit; projectors wake early instead of waiting for their next poll.
    notified as materialized (select pg_notify(${newVotesChannel}, '') as sent)
    select event_id, ${positionColumns} from new_events, notified
  `;
}

// Plain inserts and updates, not an upsert: the ballot locks already rule out a concurrent first vote.
function ballotColumns(ballots: readonly BallotToSave[]) {
  return sql`unnest(
    ${ballots.map((x) => x.command.projectId)}::uuid[], ${ballots.map((x) => x.command.poll)}::text[],
    ${ballots.map((x) => x.command.target)}::text[], ${ballots.map((x) => x.command.voter)}::text[],
    ${ballots.map((x) => x.state.value)}::int[], ${ballots.map((x) => x.state.version)}::int[],
    ${ballots.map((x) => x.lastEventId)}::uuid[], ${ballots.map((x) => x.command.now.toISOString())}::timestamptz[]
  ) as s(project_id, poll, target, voter, value, version, last_event_id, updated_at)`;
}

function databaseErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
