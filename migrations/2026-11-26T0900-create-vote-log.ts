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
      name text not null,
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

  // No foreign keys on the hot append path: a key-share lock on the poll row from every
  // concurrent batch would serialise them on one row. The append path checks the poll instead.
  await sql`
    create table vote_events (
      global_position bigint generated always as identity,
      transaction_id xid8 not null default pg_current_xact_id(),
      event_id uuid primary key,
      project_id uuid not null,
      poll text not null,
      target text not null check (char_length(target) between 1 and 256),
      voter text not null check (char_length(voter) between 1 and 256),
      stream_version integer not null check (stream_version >= 1),
      type text not null,
      value integer not null,
      previous integer not null,
      metadata jsonb not null default '{}',
      recorded_at timestamptz not null,
      idempotency_key text,
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
      poll text not null,
      target text not null,
      voter text not null,
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
      key text not null,
      request_hash text not null,
      result jsonb not null,
      created_at timestamptz not null default now(),
      primary key (project_id, key)
    )
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table idempotency_keys, ballots`.execute(db);
  await sql`drop trigger vote_events_append_only on vote_events`.execute(db);
  await sql`drop table vote_events`.execute(db);
  await sql`drop function reject_vote_event_change()`.execute(db);
  await sql`drop table polls, projects`.execute(db);
}
