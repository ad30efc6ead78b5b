import { type Kysely, sql } from 'kysely';
import { createExpiringLockVoteBatch } from './2026-11-27T0645-expire-idempotency-keys.js';

// Frozen in time: this file must never import application code.
// A poll may cap its number of targets (any client can name a new one): max_targets, with
// target_count kept by the append path while a cap is set, and null when it is not.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table polls
      add column max_targets integer check (max_targets >= 1),
      add column target_count integer check (target_count >= 0),
      add constraint polls_target_count_with_cap check ((max_targets is null) = (target_count is null))
  `.execute(db);
  await sql`drop function lock_vote_batch(bigint[], bigint[], uuid[], text[], uuid[], text[], text[], text[], uuid[], text[], interval)`.execute(db);
  // As in 2026-11-27T0645-expire-idempotency-keys, and for capped polls: a batch that may add a
  // target takes the poll's target lock (exclusive, after every other lock, in key order), so
  // such batches take turns; then one statement, with a snapshot taken after the locks, reads
  // the cap, the count, and which of the batch's targets the poll already has. The lookups are
  // scalar subqueries, not EXISTS: the planner cannot turn them into a join that scans ballots,
  // so the cached plan stays an index probe per target.
  await sql`
    create function lock_vote_batch(
      poll_locks bigint[], ballot_locks bigint[],
      poll_projects uuid[], poll_names text[], poll_target_locks bigint[],
      ballot_projects uuid[], ballot_polls text[], ballot_targets text[], ballot_voters text[],
      key_projects uuid[], key_names text[], key_ttl interval
    ) returns table (
      row_kind text, project_id uuid, poll text, target text, voter text, key text,
      poll_kind text, min_value integer, max_value integer, archived boolean, max_targets integer, target_count integer,
      value integer, version integer, last_position text, request_hash text, result jsonb
    ) language plpgsql volatile as $$
    begin
      perform pg_advisory_xact_lock_shared(k) from unnest(poll_locks) as k;
      perform pg_advisory_xact_lock(k) from unnest(ballot_locks) as k;
      perform pg_advisory_xact_lock(locks.k) from (
        select distinct w.target_lock as k
        from unnest(poll_projects, poll_names, poll_target_locks) as w(project_id, name, target_lock)
        join unnest(ballot_projects, ballot_polls, ballot_targets) as t(project_id, poll, target)
          on t.project_id = w.project_id and t.poll = w.name
        where (select true from polls p where p.project_id = w.project_id and p.name = w.name and p.max_targets is not null)
          and (select true from ballots b where b.project_id = t.project_id and b.poll = t.poll and b.target = t.target limit 1) is null
        order by 1
      ) as locks;
      return query
        select 'poll', w.project_id, w.name, null::text, null::text, null::text,
               p.kind, p.min_value, p.max_value, p.archived_at is not null, p.max_targets, p.target_count,
               null::integer, null::integer, null::text, null::text, null::jsonb
        from unnest(poll_projects, poll_names) as w(project_id, name)
        cross join lateral (
          select * from polls p where p.project_id = w.project_id and p.name = w.name offset 0
        ) as p
        union all
        select 'ballot', w.project_id, w.poll, w.target, w.voter, null,
               null, null, null, null, null, null,
               b.value, b.version, b.last_transaction_id::text || '.' || b.last_global_position::text, null, null
        from unnest(ballot_projects, ballot_polls, ballot_targets, ballot_voters) as w(project_id, poll, target, voter)
        cross join lateral (
          select * from ballots b
          where b.project_id = w.project_id and b.poll = w.poll and b.target = w.target and b.voter = w.voter
          offset 0
        ) as b
        union all
        select distinct 'target'::text, w.project_id, w.poll, w.target, null::text, null::text,
               null::text, null::integer, null::integer, null::boolean, null::integer, null::integer,
               null::integer, null::integer, null::text, null::text, null::jsonb
        from unnest(ballot_projects, ballot_polls, ballot_targets) as w(project_id, poll, target)
        where (select true from polls p where p.project_id = w.project_id and p.name = w.poll and p.max_targets is not null)
          and (select true from ballots b where b.project_id = w.project_id and b.poll = w.poll and b.target = w.target limit 1)
        union all
        select 'key', w.project_id, null, null, null, w.key,
               null, null, null, null, null, null,
               null, null, null, k.request_hash, k.result
        from unnest(key_projects, key_names) as w(project_id, key)
        cross join lateral (
          select * from idempotency_keys k where k.project_id = w.project_id and k.key = w.key and k.created_at > now() - key_ttl offset 0
        ) as k;
    end
    $$
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function lock_vote_batch(bigint[], bigint[], uuid[], text[], bigint[], uuid[], text[], text[], text[], uuid[], text[], interval)`.execute(db);
  await sql`alter table polls drop constraint polls_target_count_with_cap, drop column target_count, drop column max_targets`.execute(db);
  await createExpiringLockVoteBatch(db);
}
