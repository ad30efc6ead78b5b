import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table projects
      add column voter_policy text not null default 'open' check (voter_policy in ('open', 'signed', 'anonymous')),
      add column allowed_origins text[] not null default '{}',
      add column rate_limits jsonb not null default '{}'
  `.execute(db);

  // Several keys of each kind per project, so a key can be rotated: create the new one, move
  // the site over, revoke the old one. Revoked keys stay as rows: events name their fingerprint.
  await sql`
    create table project_keys (
      fingerprint text primary key,
      project_id uuid not null references projects (id),
      kind text not null check (kind in ('public', 'secret')),
      key_hash text not null unique,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    )
  `.execute(db);
  await sql`create index project_keys_by_project on project_keys (project_id) where revoked_at is null`.execute(db);

  // Public keys keep the fingerprint their votes already carry (sha256 of "fingerprint:" and the
  // key). A secret key was stored only as its hash, so its fingerprint is derived from the hash.
  await sql`
    insert into project_keys (fingerprint, project_id, kind, key_hash, created_at)
    select 'cv_pk_' || substr(encode(sha256(convert_to('fingerprint:' || public_key, 'UTF8')), 'hex'), 1, 12),
           id, 'public', encode(sha256(convert_to(public_key, 'UTF8')), 'hex'), created_at
    from projects
    union all
    select 'cv_sk_' || substr(encode(sha256(convert_to('fingerprint:' || secret_key_hash, 'UTF8')), 'hex'), 1, 12),
           id, 'secret', secret_key_hash, created_at
    from projects
  `.execute(db);
  await sql`alter table projects drop column public_key, drop column secret_key_hash`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table projects add column public_key text, add column secret_key_hash text`.execute(db);
  await sql`drop table project_keys`.execute(db);
  await sql`alter table projects drop column voter_policy, drop column allowed_origins, drop column rate_limits`.execute(db);
}
