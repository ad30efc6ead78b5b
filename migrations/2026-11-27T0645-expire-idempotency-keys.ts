import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
// Idempotency keys are honoured for a window (IDEMPOTENCY_KEY_TTL_SECONDS) and then forgotten:
// the table no longer grows forever, and a key used again after its window is a new request.
export async function up(db: Kysely<any>): Promise<void> {
  // An expired key may be used again, so the log can hold one key on two events. The key's
  // advisory lock and the idempotency_keys primary key keep it unique within its window.
  await sql`drop index vote_events_idempotency_key`.execute(db);
  // The cleanup finds expired keys by age, in small batches.
  await sql`create index idempotency_keys_by_age on idempotency_keys (created_at)`.execute(db);
  await sql`drop function lock_vote_batch(bigint[], bigint[], uuid[], text[], uuid[], text[], text[], text[], uuid[], text[])`.execute(db);
  await createExpiringLockVoteBatch(db);
}

/** This migration's lock_vote_batch, for the next one's down(). */
export async function createExpiringLockVoteBatch(db: Kysely<any>): Promise<void> {
  await createLockVoteBatch(db, sql`and k.created_at > now() - key_ttl`, sql`, key_ttl interval`);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function lock_vote_batch(bigint[], bigint[], uuid[], text[], uuid[], text[], text[], text[], uuid[], text[], interval)`.execute(db);
  await createLockVoteBatch(db, sql``, sql``);
  await sql`drop index idempotency_keys_by_age`.execute(db);
  await sql`
    create unique index vote_events_idempotency_key on vote_events (project_id, idempotency_key)
    where idempotency_key is not null
  `.execute(db);
}

// As in 2026-11-26T0900-create-vote-log, but a key older than key_ttl reads as absent.
async function createLockVoteBatch(db: Kysely<any>, keyIsLive: ReturnType<typeof sql>, ttlParameter: ReturnType<typeof sql>): Promise<void> {
  await sql`
    create function lock_vote_batch(
      poll_locks bigint[], ballot_locks bigint[],
      poll_projects uuid[], poll_names text[],
      ballot_projects uuid[], ballot_polls text[], ballot_targets text[], ballot_voters text[],
      key_projects uuid[], key_names text[]${ttlParameter}
    ) returns table (
      row_kind text, project_id uuid, poll text, target text, voter text, key text,
      poll_kind text, min_value integer, max_value integer, archived boolean,
      value integer, version integer, last_position text, request_hash text, result jsonb
    ) language plpgsql volatile as $$
    begin
      perform pg_advisory_xact_lock_shared(k) from unnest(poll_locks) as k;
      perform pg_advisory_xact_lock(k) from unnest(ballot_locks) as k;
      return query
        select 'poll', w.project_id, w.name, null::text, null::text, null::text,
               p.kind, p.min_value, p.max_value, p.archived_at is not null,
               null::integer, null::integer, null::text, null::text, null::jsonb
        from unnest(poll_projects, poll_names) as w(project_id, name)
        cross join lateral (
          select * from polls p where p.project_id = w.project_id and p.name = w.name offset 0
        ) as p
        union all
        select 'ballot', w.project_id, w.poll, w.target, w.voter, null,
               null, null, null, null,
               b.value, b.version, b.last_transaction_id::text || '.' || b.last_global_position::text, null, null
        from unnest(ballot_projects, ballot_polls, ballot_targets, ballot_voters) as w(project_id, poll, target, voter)
        cross join lateral (
          select * from ballots b
          where b.project_id = w.project_id and b.poll = w.poll and b.target = w.target and b.voter = w.voter
          offset 0
        ) as b
        union all
        select 'key', w.project_id, null, null, null, w.key,
               null, null, null, null,
               null, null, null, k.request_hash, k.result
        from unnest(key_projects, key_names) as w(project_id, key)
        cross join lateral (
          select * from idempotency_keys k where k.project_id = w.project_id and k.key = w.key ${keyIsLive} offset 0
        ) as k;
    end
    $$
  `.execute(db);
}
