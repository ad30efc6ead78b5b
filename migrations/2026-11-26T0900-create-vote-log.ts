import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table projects (
      id uuid primary key,
      name text not null check (char_length(name) between 1 and 200),
      public_key text not null unique,
      secret_key_hash text not null unique,
      created_at timestamptz not null default now()
    )
  `.execute(db);

  await sql`
    create table polls (
      project_id uuid not null references projects (id),
      name text collate "C" not null,
      kind text not null check (kind in ('like', 'updown', 'rating')),
      min_value integer not null,
      max_value integer not null,
      archived_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (project_id, name),
      check (min_value <= max_value)
    )
  `.execute(db);

  // Ids are opaque to us: the "C" collation compares them byte by byte, the same on every
  // server, and far cheaper in every index than a locale's rules.
  // No foreign keys on the hot append path: a key-share lock on the poll row from every
  // concurrent batch would serialise them on one row. The append path checks the poll instead.
  await sql`
    create table vote_events (
      global_position bigint generated always as identity,
      transaction_id xid8 not null default pg_current_xact_id(),
      event_id uuid primary key,
      project_id uuid not null,
      poll text collate "C" not null,
      target text collate "C" not null check (char_length(target) between 1 and 256),
      voter text collate "C" not null check (char_length(voter) between 1 and 256),
      stream_version integer not null check (stream_version >= 1),
      type text not null,
      value integer not null,
      previous integer not null,
      metadata jsonb not null default '{}',
      recorded_at timestamptz not null,
      idempotency_key text collate "C",
      check ((type = 'VoteCast' and value <> 0 and value <> previous)
          or (type = 'VoteRetracted' and value = 0 and previous <> 0)),
      unique (project_id, poll, target, voter, stream_version)
    )
  `.execute(db);
  // Every index costs every append, so: no separate index on global_position (the commit-order
  // index is unique and identity keeps positions unique), and no index entries for votes without a key.
  await sql`create unique index vote_events_commit_order on vote_events (transaction_id, global_position)`.execute(db);
  await sql`
    create unique index vote_events_idempotency_key on vote_events (project_id, idempotency_key)
    where idempotency_key is not null
  `.execute(db);
  await sql`create index vote_events_by_target on vote_events (project_id, poll, target, global_position)`.execute(db);
  await sql`create index vote_events_by_voter on vote_events (project_id, voter, global_position)`.execute(db);

  await sql`
    create function reject_vote_event_change() returns trigger language plpgsql as $$
    begin
      raise exception 'vote_events is append-only: % is not allowed', tg_op
        using errcode = 'restrict_violation';
    end
    $$
  `.execute(db);
  await sql`
    create trigger vote_events_append_only
    before update or delete or truncate on vote_events
    for each statement execute function reject_vote_event_change()
  `.execute(db);

  // Current state of each ballot, written in the same transaction as its events,
  // so a command reads one row instead of replaying a stream.
  await sql`
    create table ballots (
      project_id uuid not null,
      poll text collate "C" not null,
      target text collate "C" not null,
      voter text collate "C" not null,
      value integer not null,
      version integer not null check (version >= 1),
      last_transaction_id xid8 not null,
      last_global_position bigint not null,
      updated_at timestamptz not null,
      primary key (project_id, poll, target, voter)
    )
  `.execute(db);

  // The first answer to each Idempotency-Key, including answers that appended nothing.
  await sql`
    create table idempotency_keys (
      project_id uuid not null,
      key text collate "C" not null,
      request_hash text not null,
      result jsonb not null,
      created_at timestamptz not null default now(),
      primary key (project_id, key)
    )
  `.execute(db);

  // One round trip for the start of every append batch: lock the batch's polls (shared) and
  // ballots and idempotency keys (exclusive) in the order given, then read what they guard. A
  // volatile function takes a fresh snapshot per statement, so the reads see every batch that
  // held these locks before us. Each read is a lateral primary-key lookup kept apart by
  // "offset 0", so the cached plan stays an index probe per key however the tables grow.
  await sql`
    create function lock_vote_batch(
      poll_locks bigint[], ballot_locks bigint[],
      poll_projects uuid[], poll_names text[],
      ballot_projects uuid[], ballot_polls text[], ballot_targets text[], ballot_voters text[],
      key_projects uuid[], key_names text[]
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
          select * from idempotency_keys k where k.project_id = w.project_id and k.key = w.key offset 0
        ) as k;
    end
    $$
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function lock_vote_batch`.execute(db);
  await sql`drop table idempotency_keys, ballots`.execute(db);
  await sql`drop trigger vote_events_append_only on vote_events`.execute(db);
  await sql`drop table vote_events`.execute(db);
  await sql`drop function reject_vote_event_change()`.execute(db);
  await sql`drop table polls, projects`.execute(db);
}
