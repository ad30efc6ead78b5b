import { type Kysely, sql, type Transaction } from 'kysely';
import type { PollDefinition, PollKind } from '../domain/poll.js';
import { formatPosition } from '../domain/position.js';
import type { Database } from '../platform/database.js';
import { advisoryLockKey, inLockOrder } from './advisory-locks.js';
import {
  type BallotToSave,
  type BatchPlan,
  type BatchState,
  ballotKeyOf,
  idempotencyKeyOf,
  planBatch,
  pollKeyOf,
  type StoredBallot,
  type StoredIdempotencyKey,
} from './vote-batch.js';
import type { VoteCommand, VoteOutcome, VoteResult } from './vote-command.js';

export interface AppendOptions {
  /** How many times a batch is tried when it loses a race (unique violation, deadlock, serialization). */
  readonly maxAttempts: number;
}

const retryableCodes = new Set(['23505', '40001', '40P01']);

/**
 * Appends a batch of vote commands in one transaction and answers each one separately.
 * A batch that fails for a reason no retry can fix is split, so a bad command fails alone.
 */
export async function appendVoteBatch(
  db: Kysely<Database>,
  commands: readonly VoteCommand[],
  options: AppendOptions,
): Promise<VoteOutcome[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction().execute((tx) => appendInTransaction(tx, commands));
    } catch (error) {
      const retryable = retryableCodes.has(databaseErrorCode(error) ?? '');
      if (retryable && attempt < options.maxAttempts) {
        await sleep(Math.random() * 5 * attempt);
        continue;
      }
      if (commands.length === 1) throw error;
      const outcomes = await Promise.all(commands.map((command) => appendVoteBatch(db, [command], options)));
      return outcomes.flat();
    }
  }
}

async function appendInTransaction(tx: Transaction<Database>, commands: readonly VoteCommand[]): Promise<VoteOutcome[]> {
  await lockBatch(tx, commands);
  const plan = planBatch(commands, await readBatchState(tx, commands));
  const positions = await insertEvents(tx, plan);
  const positionOf = (eventId: string) => positions.get(eventId)!;
  await saveBallots(tx, plan, positions);
  const outcomes = plan.outcomes(positionOf);
  await saveIdempotencyKeys(tx, plan, outcomes);
  return outcomes;
}

/** Polls shared (a definition change waits for appends), then ballots and keys exclusively. */
async function lockBatch(tx: Transaction<Database>, commands: readonly VoteCommand[]): Promise<void> {
  const pollLocks = inLockOrder(commands.map((c) => advisoryLockKey('poll', c.projectId, c.poll)));
  const ballotLocks = inLockOrder([
    ...commands.map((c) => advisoryLockKey('ballot', c.projectId, c.poll, c.target, c.voter)),
    ...commands.flatMap((c) => (c.idempotencyKey === undefined ? [] : [advisoryLockKey('idempotency-key', c.projectId, c.idempotencyKey)])),
  ]);
  await sql`select pg_advisory_xact_lock_shared(k) from unnest(${pollLocks}::bigint[]) as k`.execute(tx);
  await sql`select pg_advisory_xact_lock(k) from unnest(${ballotLocks}::bigint[]) as k`.execute(tx);
}

async function readBatchState(tx: Transaction<Database>, commands: readonly VoteCommand[]): Promise<BatchState> {
  const [polls, ballots, idempotencyKeys] = await Promise.all([
    readPolls(tx, commands),
    readBallots(tx, commands),
    readIdempotencyKeys(tx, commands),
  ]);
  return { polls, ballots, idempotencyKeys };
}

async function readPolls(tx: Transaction<Database>, commands: readonly VoteCommand[]) {
  const wanted = uniqueBy(commands, pollKeyOf);
  const { rows } = await sql<{ project_id: string; name: string; kind: PollKind; min_value: number; max_value: number; archived: boolean }>`
    select p.project_id, p.name, p.kind, p.min_value, p.max_value, p.archived_at is not null as archived
    from polls p
    join unnest(${wanted.map((c) => c.projectId)}::uuid[], ${wanted.map((c) => c.poll)}::text[]) as w(project_id, name)
      using (project_id, name)
  `.execute(tx);
  return new Map<string, PollDefinition>(
    rows.map((row) => [
      pollKeyOf({ projectId: row.project_id, poll: row.name }),
      { name: row.name, kind: row.kind, min: row.min_value, max: row.max_value, archived: row.archived },
    ]),
  );
}

async function readBallots(tx: Transaction<Database>, commands: readonly VoteCommand[]) {
  const wanted = uniqueBy(commands, ballotKeyOf);
  const { rows } = await sql<{ project_id: string; poll: string; target: string; voter: string; value: number; version: number; tx: string; pos: string }>`
    select b.project_id, b.poll, b.target, b.voter, b.value, b.version,
           b.last_transaction_id::text as tx, b.last_global_position::text as pos
    from ballots b
    join unnest(
      ${wanted.map((c) => c.projectId)}::uuid[], ${wanted.map((c) => c.poll)}::text[],
      ${wanted.map((c) => c.target)}::text[], ${wanted.map((c) => c.voter)}::text[]
    ) as w(project_id, poll, target, voter) using (project_id, poll, target, voter)
  `.execute(tx);
  return new Map<string, StoredBallot>(
    rows.map((row) => [
      ballotKeyOf({ projectId: row.project_id, poll: row.poll, target: row.target, voter: row.voter } as VoteCommand),
      { value: row.value, version: row.version, position: formatPosition({ transactionId: BigInt(row.tx), globalPosition: BigInt(row.pos) }) },
    ]),
  );
}

async function readIdempotencyKeys(tx: Transaction<Database>, commands: readonly VoteCommand[]) {
  const wanted = uniqueBy(
    commands.filter((c) => c.idempotencyKey !== undefined),
    idempotencyKeyOf,
  );
  if (wanted.length === 0) return new Map<string, StoredIdempotencyKey>();
  const { rows } = await sql<{ project_id: string; key: string; request_hash: string; result: VoteResult }>`
    select k.project_id, k.key, k.request_hash, k.result
    from idempotency_keys k
    join unnest(${wanted.map((c) => c.projectId)}::uuid[], ${wanted.map((c) => c.idempotencyKey!)}::text[]) as w(project_id, key)
      using (project_id, key)
  `.execute(tx);
  return new Map<string, StoredIdempotencyKey>(
    rows.map((row) => [`${row.project_id}\u0000${row.key}`, { requestHash: row.request_hash, result: row.result }]),
  );
}

/** One multi-row insert in arrival order, so a ballot's versions follow its global positions. */
async function insertEvents(tx: Transaction<Database>, plan: BatchPlan): Promise<Map<string, string>> {
  if (plan.events.length === 0) return new Map();
  const e = plan.events;
  const { rows } = await sql<{ event_id: string; tx: string; pos: string }>`
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
    returning event_id, transaction_id::text as tx, global_position::text as pos
  `.execute(tx);
  return new Map(
    rows.map((row) => [row.event_id, formatPosition({ transactionId: BigInt(row.tx), globalPosition: BigInt(row.pos) })]),
  );
}

/** Plain inserts and updates, not an upsert: the ballot locks already rule out a concurrent first vote. */
async function saveBallots(tx: Transaction<Database>, plan: BatchPlan, positions: Map<string, string>): Promise<void> {
  const positionOf = (ballot: BallotToSave) => positions.get(ballot.lastEventId)!.split('.')[1]!;
  const columns = (b: BallotToSave[]) => sql`unnest(
      ${b.map((x) => x.command.projectId)}::uuid[], ${b.map((x) => x.command.poll)}::text[],
      ${b.map((x) => x.command.target)}::text[], ${b.map((x) => x.command.voter)}::text[],
      ${b.map((x) => x.state.value)}::int[], ${b.map((x) => x.state.version)}::int[],
      ${b.map(positionOf)}::bigint[], ${b.map((x) => x.command.now.toISOString())}::timestamptz[]
    ) as s(project_id, poll, target, voter, value, version, last_global_position, updated_at)`;
  const inserts = plan.ballots.filter((ballot) => !ballot.stored);
  const updates = plan.ballots.filter((ballot) => ballot.stored);
  if (inserts.length > 0) {
    await sql`
      insert into ballots (project_id, poll, target, voter, value, version, last_transaction_id, last_global_position, updated_at)
      select project_id, poll, target, voter, value, version, pg_current_xact_id(), last_global_position, updated_at
      from ${columns(inserts)}
    `.execute(tx);
  }
  if (updates.length > 0) {
    await sql`
      update ballots b set value = s.value, version = s.version, last_transaction_id = pg_current_xact_id(),
        last_global_position = s.last_global_position, updated_at = s.updated_at
      from ${columns(updates)}
      where (b.project_id, b.poll, b.target, b.voter) = (s.project_id, s.poll, s.target, s.voter)
    `.execute(tx);
  }
}

async function saveIdempotencyKeys(tx: Transaction<Database>, plan: BatchPlan, outcomes: VoteOutcome[]): Promise<void> {
  if (plan.idempotencyKeys.length === 0) return;
  const k = plan.idempotencyKeys;
  const resultOf = (index: number) => {
    const outcome = outcomes[index]!;
    if (!outcome.ok) throw new Error('An idempotency key is saved only with a successful result');
    return JSON.stringify(outcome.receipt.result);
  };
  await sql`
    insert into idempotency_keys (project_id, key, request_hash, result)
    select project_id, key, request_hash, result::jsonb
    from unnest(
      ${k.map((x) => x.command.projectId)}::uuid[], ${k.map((x) => x.command.idempotencyKey!)}::text[],
      ${k.map((x) => x.requestHash)}::text[], ${k.map((x) => resultOf(x.outcomeIndex))}::text[]
    ) as k(project_id, key, request_hash, result)
  `.execute(tx);
}

function uniqueBy<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [keyOf(item), item])).values()];
}

function databaseErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
