import { type Kysely, sql } from 'kysely';

// Frozen in time: this file must never import application code.
// Each projector that takes the leadership lock draws the next epoch; Redis refuses writes of a
// leader older than the newest it has seen. A sequence never hands out a number twice, even after
// a crash, and pg_dump carries its value over to a restored database.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence projector_leader_epochs`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop sequence projector_leader_epochs`.execute(db);
}
