import { Either, ParseResult, Schema } from 'effect';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../platform/database.js';
import { definitionTables, exportFormat } from '../platform/backup-format.js';
import { appendVoteBatch } from './append-votes.js';
import type { VoteCommand } from '../domain/vote-command.js';

export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export interface ImportReport {
  readonly rows: Record<string, number>;
  readonly events: number;
}

const Header = Schema.Struct({ format: Schema.Literal(exportFormat.format), version: Schema.Literal(exportFormat.version), exportedAt: Schema.String });
const TableRow = Schema.Struct({ table: Schema.String, row: Schema.Record({ key: Schema.String, value: Schema.Unknown }) });
const EventsOf = Schema.Struct({ eventsOf: Schema.UUID });
const ExportedEvent = Schema.Struct({
  eventId: Schema.UUID,
  position: Schema.String,
  type: Schema.Literal('VoteCast', 'VoteRetracted'),
  poll: Schema.String,
  target: Schema.String,
  voter: Schema.String,
  value: Schema.Int,
  previous: Schema.Int,
  version: Schema.Int,
  recordedAt: Schema.Date,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
});
type ExportedEvent = typeof ExportedEvent.Type;

/**
 * Loads an export (see log-export.ts) into an empty, migrated database. Definition rows are
 * inserted as they were; every event is appended again through the ordinary append path, one
 * batch at a time, and must come out as the same event: same event id, recording time, type,
 * value and previous value. Its metadata gains `imported: {position, importedAt}`, the event's
 * position in the exported log. New positions follow the export's order. Polls take their events
 * open (not archived, no target cap) and get their exported rows back at the end.
 */
export async function importLog(db: Kysely<Database>, lines: AsyncIterable<string>, options: { batchSize?: number; importedAt?: Date } = {}): Promise<ImportReport> {
  // Taken before the first await: readline hands its lines, and its end, only to listeners already there.
  const input = lines[Symbol.asyncIterator]();
  const tables = await definitionTables(db);
  await assertEmpty(db, tables).catch(async (error: unknown) => {
    await input.return?.();
    throw error;
  });
  const importer = new Importer(db, tables, (options.importedAt ?? new Date()).toISOString(), options.batchSize ?? 1000);
  let number = 0;
  let header = false;
  for await (const text of { [Symbol.asyncIterator]: () => input }) {
    number += 1;
    if (text.trim() === '') continue;
    if (!header && text.startsWith('> ')) throw new ImportError(`line ${number} is npm's banner, not an export: write the export with npm run -s export`);
    const json = parseLine(text, number);
    if (!header) {
      decodeLine(Header, json, number);
      header = true;
    } else if (typeof json === 'object' && json !== null && 'table' in json) {
      await importer.insertRow(decodeLine(TableRow, json, number), number);
    } else if (typeof json === 'object' && json !== null && 'eventsOf' in json) {
      await importer.startProject(decodeLine(EventsOf, json, number).eventsOf);
    } else {
      await importer.append(decodeLine(ExportedEvent, json, number), number);
    }
  }
  if (!header) throw new ImportError('the input is empty: expected the output of npm run export');
  return importer.finish();
}

class Importer {
  private readonly rows: Record<string, number> = {};
  private readonly polls: Record<string, unknown>[] = [];
  private pending: { line: number; event: ExportedEvent; command: VoteCommand }[] = [];
  private projectId: string | undefined;
  private events = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly tables: readonly string[],
    private readonly importedAt: string,
    private readonly batchSize: number,
  ) {}

  async insertRow({ table, row }: typeof TableRow.Type, line: number): Promise<void> {
    if (!this.tables.includes(table)) throw new ImportError(`line ${line}: "${table}" is not a table this database imports (${this.tables.join(', ')})`);
    await this.flush();
    // A poll takes its events open (an archived poll takes no votes, a capped one counts its
    // targets as they come); its exported row is written back whole once they are in.
    if (table === 'polls') this.polls.push(row);
    const values = table === 'polls' ? { ...row, archived_at: null, max_targets: null, target_count: null } : row;
    await sql`
      insert into ${sql.table(table)} overriding system value
      select * from jsonb_populate_record(null::${sql.table(table)}, ${JSON.stringify(values)}::jsonb)
    `.execute(this.db);
    this.rows[table] = (this.rows[table] ?? 0) + 1;
  }

  async startProject(projectId: string): Promise<void> {
    await this.flush();
    this.projectId = projectId;
  }

  async append(event: ExportedEvent, line: number): Promise<void> {
    if (this.projectId === undefined) throw new ImportError(`line ${line}: an event before any {"eventsOf": <project id>} line`);
    this.pending.push({ line, event, command: commandFor(this.projectId, event, this.importedAt) });
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  async finish(): Promise<ImportReport> {
    await this.flush();
    for (const poll of this.polls) {
      await this.db.transaction().execute(async (tx) => {
        await sql`delete from polls where project_id = ${poll.project_id}::uuid and name = ${poll.name}::text`.execute(tx);
        await sql`insert into polls select * from jsonb_populate_record(null::polls, ${JSON.stringify(poll)}::jsonb)`.execute(tx);
      });
    }
    return { rows: this.rows, events: this.events };
  }

  private async flush(): Promise<void> {
    if (this.pending.length > 0) await appendExactly(this.db, this.pending);
    this.events += this.pending.length;
    this.pending = [];
  }
}

function commandFor(projectId: string, event: ExportedEvent, importedAt: string): VoteCommand {
  const earlier = event.metadata.imported;
  return {
    projectId,
    poll: event.poll,
    target: event.target,
    voter: event.voter,
    value: event.value,
    idempotencyKey: undefined,
    eventId: event.eventId,
    now: event.recordedAt,
    metadata: { ...event.metadata, imported: { position: event.position, importedAt, ...(earlier === undefined ? {} : { previously: earlier }) } },
  };
}

/** Appends a batch and checks that each command made exactly the exported event. */
async function appendExactly(db: Kysely<Database>, batch: readonly { line: number; event: ExportedEvent; command: VoteCommand }[]): Promise<void> {
  // Imported commands carry no Idempotency-Key, so the keys' window never comes into play.
  const outcomes = await appendVoteBatch(db, batch.map((entry) => entry.command), { maxAttempts: 5, idempotencyKeyTtlSeconds: 1 });
  outcomes.forEach((outcome, index) => {
    const { line, event } = batch[index]!;
    const problem = !outcome.ok
      ? outcome.error.message
      : !outcome.receipt.result.changed || outcome.receipt.result.previous !== event.previous
        ? `the ballot's value before it was ${outcome.receipt.result.previous}, not ${event.previous}`
        : undefined;
    if (problem !== undefined) throw new ImportError(`line ${line}: event ${event.eventId} cannot be appended as exported: ${problem}`);
  });
}

async function assertEmpty(db: Kysely<Database>, tables: readonly string[]): Promise<void> {
  for (const table of ['vote_events', ...tables]) {
    const { rows } = await sql<{ has_rows: boolean }>`select exists (select 1 from ${sql.table(table)}) as has_rows`.execute(db);
    if (rows[0]!.has_rows) throw new ImportError(`the database is not empty (table ${table} has rows): import into a new, migrated database`);
  }
}

function parseLine(text: string, number: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ImportError(`line ${number}: not JSON`);
  }
}

function decodeLine<A, I>(schema: Schema.Schema<A, I>, json: unknown, number: number): A {
  const decoded = Schema.decodeUnknownEither(schema, { onExcessProperty: 'error' })(json);
  if (Either.isRight(decoded)) return decoded.right;
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(decoded.left);
  throw new ImportError(`line ${number}: ${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'not an export line'}`);
}
