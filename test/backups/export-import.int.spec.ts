import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castVote } from '../../src/commands/cast-vote.js';
import { archivePoll, definePoll } from '../../src/commands/polls.js';
import { findProjectByKey } from '../../src/catalog/projects.js';
import { createProject } from '../../src/commands/projects.js';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import type { Database } from '../../src/platform/database.js';
import { exportAuditEvents } from '../../src/projections/log-queries/audit-log.js';
import { recomputeTallies } from '../../src/projections/log-queries/recompute-tallies.js';
import { runCli, runNpmScript } from '../support/cli.js';
import { createPostgresTestDatabase, createTestDatabase, type TestDatabase } from '../support/database.js';
import { countVoteEvents } from '../support/fixtures.js';
import { castRandomVotes } from '../support/votes.js';

// The README's export/import recipe, end to end, through the commands an operator types.
let source: TestDatabase;
let target: TestDatabase;
let exported: string;
let secretKeys: string[];
const dataDir = mkdtempSync(path.join(tmpdir(), 'cv-import-'));

beforeAll(async () => {
  source = await createTestDatabase();
  if (source.url === undefined) return;
  target = await createPostgresTestDatabase(process.env.TEST_DATABASE_URL!);
  const appender = new VoteAppender(source.db, { windowMs: 2, maxBatch: 32, maxConcurrentBatches: 3 });
  secretKeys = [];
  for (const name of ['blog', 'shop']) {
    const project = await createProject(source.db, name);
    secretKeys.push(project.secretKey);
    await definePoll(source.db, { projectId: project.id, name: 'likes', kind: 'like', maxTargets: 10 });
    await definePoll(source.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    await definePoll(source.db, { projectId: project.id, name: 'stars', kind: 'rating', min: 1, max: 5 });
    await castRandomVotes(appender, project.id, 150);
    await castVote(appender, { projectId: project.id, poll: 'likes', target: 'meta', voter: 'ann', value: 1, metadata: { source: 'http', userAgent: 'ua/1' } });
    await archivePoll(source.db, project.id, 'votes');
  }
  await appender.close();
  const exportRun = await runNpmScript('export', { DATABASE_URL: source.url });
  expect(exportRun).toMatchObject({ code: 0, stderr: '' });
  exported = exportRun.stdout;
});

afterAll(async () => {
  await target?.dispose();
  await source.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

const rowsOf = async (db: Kysely<Database>, query: string) => (await sql.raw<Record<string, unknown>>(query).execute(db)).rows;
// Project by project, each in its own commit order: an import keeps that, not how projects interleaved.
const eventsOf = (db: Kysely<Database>) =>
  rowsOf(db, 'select event_id, project_id, poll, target, voter, stream_version, type, value, previous, recorded_at, metadata, transaction_id::text || \'.\' || global_position::text as position from vote_events order by project_id, transaction_id, global_position');

describe('npm run export, then npm run import into an empty database', () => {
  it('writes each project\'s events as the very lines of its audit export', async (context) => {
    if (source.url === undefined) return context.skip();
    const lines = exported.trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'clickvote-export', version: 1 });
    expect(lines.filter((line) => line.startsWith('{"table"')).map((line) => JSON.parse(line).table)).toEqual([
      'projects', 'projects', 'polls', 'polls', 'polls', 'polls', 'polls', 'polls', 'project_keys', 'project_keys', 'project_keys', 'project_keys',
    ]);
    const projects = await source.db.selectFrom('projects').select('id').orderBy('id').execute();
    for (const { id } of projects) {
      const audit: string[] = [];
      await exportAuditEvents(source.db, { projectId: id }, undefined, async (page) => (audit.push(...page), true));
      const start = lines.indexOf(JSON.stringify({ eventsOf: id }));
      expect(lines.slice(start + 1, start + 1 + audit.length)).toEqual(audit);
    }
    expect(lines.filter((line) => line.startsWith('{"eventId"'))).toHaveLength(await countVoteEvents(source.db));
  });

  it('keeps every project, poll, key, event id, time, value and tally; the old position goes into metadata', async (context) => {
    if (source.url === undefined) return context.skip();
    const imported = await runNpmScript('import', { DATABASE_URL: target.url }, { input: exported });
    const events = await countVoteEvents(source.db);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringContaining(`Imported 2 projects, 6 polls, 4 project_keys and ${events} events.`) });

    expect(await rowsOf(target.db, 'select * from projects order by id')).toEqual(await rowsOf(source.db, 'select * from projects order by id'));
    expect(await rowsOf(target.db, 'select * from polls order by project_id, name')).toEqual(await rowsOf(source.db, 'select * from polls order by project_id, name'));
    expect(await rowsOf(target.db, 'select * from project_keys order by fingerprint')).toEqual(await rowsOf(source.db, 'select * from project_keys order by fingerprint'));
    for (const key of secretKeys) expect(await findProjectByKey(target.db, key)).toMatchObject({ access: 'secret' });
    expect(await recomputeTallies(target.db)).toEqual(await recomputeTallies(source.db));
    const ballots = 'select project_id, poll, target, voter, value, version from ballots order by 1, 2, 3, 4';
    expect(await rowsOf(target.db, ballots)).toEqual(await rowsOf(source.db, ballots));

    const before = await eventsOf(source.db);
    const after = await eventsOf(target.db);
    const withoutOrigin = ({ position: _position, metadata, ...event }: Record<string, unknown>) => ({ ...event, metadata: { ...(metadata as object), imported: undefined } });
    expect(after.map(withoutOrigin)).toEqual(before.map(withoutOrigin));
    after.forEach((event, i) => expect((event.metadata as { imported: unknown }).imported).toEqual({ position: before[i]!.position, importedAt: expect.any(String) }));
  });

  it('refuses a database that is not empty, and writes nothing', async (context) => {
    if (source.url === undefined) return context.skip();
    const events = await countVoteEvents(target.db);
    const again = await runCli('src/commands/import-cli.ts', { DATABASE_URL: target.url }, { input: exported });
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('the database is not empty') });
    expect(await countVoteEvents(target.db)).toBe(events);
  });

  it('moves a log into the embedded database and back out unchanged', async (context) => {
    if (source.url === undefined) return context.skip();
    const embedded = { DATA_DIR: dataDir, DATABASE_URL: '' };
    expect(await runCli('src/platform/migrate-cli.ts', embedded)).toMatchObject({ code: 0 });
    expect(await runCli('src/commands/import-cli.ts', embedded, { input: exported })).toMatchObject({ code: 0 });
    const again = await runCli('src/projections/operations/export-cli.ts', embedded);
    const withoutOrigin = (text: string) =>
      text.trimEnd().split('\n').slice(1).map((line) => {
        const { position: _position, metadata, ...rest } = JSON.parse(line);
        return metadata === undefined ? rest : { ...rest, metadata: { ...metadata, imported: undefined } };
      });
    expect(withoutOrigin(again.stdout)).toEqual(withoutOrigin(exported));
  });

  it.for<[string, string, string]>([
    ['npm\'s banner instead of the export', '> clickvote-es@0.1.0 export\n', 'npm run -s export'],
    ['a line that is not JSON', '{"format":"clickvote-export","version":1,"exportedAt":"x"}\nnot json\n', 'line 2: not JSON'],
    ['an unknown table', '{"format":"clickvote-export","version":1,"exportedAt":"x"}\n{"table":"pg_authid","row":{}}\n', 'line 2: "pg_authid" is not a table'],
    ['an event of no project', '{"format":"clickvote-export","version":1,"exportedAt":"x"}\n' + exportedEventLine(), 'line 2: an event before any'],
  ])('names the line of %s', async ([, input, message], context) => {
    if (source.url === undefined) return context.skip();
    const fresh = await createPostgresTestDatabase(process.env.TEST_DATABASE_URL!);
    try {
      expect(await runCli('src/commands/import-cli.ts', { DATABASE_URL: fresh.url }, { input })).toMatchObject({ code: 1, stderr: expect.stringContaining(message) });
      expect(await countVoteEvents(fresh.db)).toBe(0);
    } finally {
      await fresh.dispose();
    }
  });
});

function exportedEventLine(): string {
  return JSON.stringify({
    eventId: '0190a3c2-0000-7000-8000-000000000001', position: '1.1', type: 'VoteCast', poll: 'likes', target: 't', voter: 'v',
    value: 1, previous: 0, version: 1, recordedAt: '2026-11-27T06:00:00.000Z', metadata: {},
  }) + '\n';
}
