import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
// A BRIN index costs appends almost nothing (events arrive in time order) and lets analytics
// and audit time ranges skip the blocks outside them.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index vote_events_by_time on vote_events using brin (recorded_at) with (pages_per_range = 32)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index vote_events_by_time`.execute(db);
}
