import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
//
// A logical restore (pg_dump, then pg_restore into another cluster) keeps each event's
// transaction_id. In a cluster whose transaction counter is lower, those ids lie in the future:
// no snapshot's xmin ever passes them, so readers that follow the log in commit order (the
// projector, replay, audit pages) would never see the restored history. This function re-bases
// them in one step: every event whose transaction_id this cluster has not reached yet takes the
// id of the transaction running the function, which is the one that makes them visible, so they
// follow every older event and precede every later append. Positions and event ids stay; the
// re-based events keep their position order, which is each ballot's own order (a ballot's events
// take increasing positions), though no longer the old cluster's commit order between ballots.
//
// This is the one place the append-only trigger is bypassed, explicitly, inside this one
// transaction: the UPDATE rewrites transaction_id only, then the trigger is enabled again before
// anything else can write (the lock below keeps appends out until commit). `npm run migrate`
// calls it after every run of the migrations, because a dump taken after this file first ran
// still needs it when restored; on a log from this cluster it only reads one index entry.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function rebase_restored_vote_log() returns bigint language plpgsql as $$
    declare
      rebased_to xid8;
      rebased bigint;
    begin
      if not exists (select 1 from vote_events where transaction_id >= pg_snapshot_xmax(pg_current_snapshot())) then
        return 0;
      end if;
      -- Keeps appends (and a second migrate) out until this transaction commits; readers go on.
      lock table vote_events in share row exclusive mode;
      rebased_to := pg_current_xact_id();
      alter table vote_events disable trigger vote_events_append_only;
      update vote_events set transaction_id = rebased_to where transaction_id >= rebased_to;
      get diagnostics rebased = row_count;
      alter table vote_events enable trigger vote_events_append_only;
      -- The tokens handed out for those events move with them: a ballot's last event, and the
      -- first answer saved for an Idempotency-Key.
      update ballots set last_transaction_id = rebased_to where last_transaction_id >= rebased_to;
      update idempotency_keys
        set result = jsonb_set(result, '{position}', to_jsonb(rebased_to::text || '.' || split_part(result->>'position', '.', 2)))
        where result->>'position' is not null and split_part(result->>'position', '.', 1)::xid8 >= rebased_to;
      return rebased;
    end
    $$
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function rebase_restored_vote_log()`.execute(db);
}
