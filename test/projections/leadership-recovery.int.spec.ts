import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresLeadership } from '../../src/projections/tallies/leadership.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { randomId } from '../support/fixtures.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.dispose();
});

interface Contender {
  readonly name: string;
  readonly stop: AbortController;
  leading: Promise<void>;
  terms: number;
  current: boolean;
  notifications: number;
}

describe('projector leadership when its lock session is terminated', () => {
  it('ends the term, keeps the process, and a contender (a standby, or the same one) leads again', async (context) => {
    if (database.url === undefined) {
      console.warn('\n*** No PostgreSQL server: the leadership recovery test is SKIPPED (PGlite has no sessions to terminate) ***\n');
      context.skip();
    }
    const channel = randomId('wake').replace('-', '_');
    const contend = (name: string): Contender => {
      const contender: Contender = { name, stop: new AbortController(), leading: Promise.resolve(), terms: 0, current: false, notifications: 0 };
      const leadership = new PostgresLeadership(database.url!, pino({ level: 'silent' }), {
        retryMs: 100,
        wakeUp: { channel, onNotification: () => (contender.notifications += 1) },
      });
      contender.leading = leadership.lead(async (termEnded) => {
        contender.terms += 1;
        contender.current = true;
        await new Promise((resolve) => termEnded.addEventListener('abort', resolve, { once: true }));
        contender.current = false;
      }, contender.stop.signal);
      return contender;
    };
    const contenders = [contend('a'), contend('b')];
    const admin = new pg.Client({ connectionString: database.url });
    admin.on('error', () => {});
    await admin.connect();
    const leader = () => contenders.filter((c) => c.current);
    const totalTerms = () => contenders.reduce((sum, c) => sum + c.terms, 0);
    try {
      await vi.waitFor(() => expect(leader()).toHaveLength(1), { timeout: 20_000 });
      const leaders: string[] = [];
      for (let round = 0; round < 6; round += 1) {
        const before = totalTerms();
        const current = leader()[0]!;
        leaders.push(current.name);
        const { rows } = await admin.query<{ ended: boolean }>(
          `select pg_terminate_backend(pid) as ended from pg_locks
           where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
        );
        expect(rows.map((row) => row.ended)).toEqual([true]);
        await vi.waitFor(() => expect(totalTerms()).toBe(before + 1), { timeout: 20_000 });
        await vi.waitFor(() => expect(leader()).toHaveLength(1), { timeout: 20_000 });
        // The new term LISTENs again: a notification reaches whoever leads now.
        const heard = leader()[0]!.notifications;
        await admin.query(`select pg_notify($1, '')`, [channel]);
        await vi.waitFor(() => expect(leader()[0]!.notifications).toBeGreaterThan(heard), { timeout: 20_000 });
      }
      console.log(`leadership: 6 lock sessions terminated, leaders in turn: ${leaders.join(', ')}`);
    } finally {
      for (const contender of contenders) contender.stop.abort();
      await Promise.all(contenders.map((contender) => contender.leading));
      await admin.end();
    }
    expect(contenders.map((c) => c.current)).toEqual([false, false]);
  });
});

describe('projector leadership told to stop', () => {
  it('returns when stopped while still connecting (pg never settles a connect() that end() interrupted)', async (context) => {
    if (database.url === undefined) context.skip('PGlite has no lock sessions to wait on');
    const stop = new AbortController();
    let terms = 0;
    const leading = new PostgresLeadership(database.url!, pino({ level: 'silent' }), { retryMs: 100 }).lead(async () => {
      terms += 1;
    }, stop.signal);
    stop.abort(); // the connection is being opened right now
    const settled = await Promise.race([leading.then(() => 'returned'), new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
    expect(settled).toBe('returned');
    expect(terms).toBe(0);
  });
});
