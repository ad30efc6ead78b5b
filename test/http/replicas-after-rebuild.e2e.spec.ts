import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { tallyIdOf } from '../../src/domain/identity-keys.js';
import { emptyTally, type Tally } from '../../src/domain/tally.js';
import { Projector } from '../../src/projections/tallies/projector.js';
import { rebuildTallies } from '../../src/projections/operations/rebuild.js';
import { recomputeTallies } from '../../src/projections/log-queries/recompute-tallies.js';
import { RedisTallyStore } from '../../src/projections/tallies/redis-tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { createTestRedis, freePort, type TestRedis } from '../support/redis.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

const root = path.resolve(import.meta.dirname, '../..');
const logger = pino({ level: 'silent' });
const targets = ['t0', 't1', 't2', 't3', 't4', 't5'];
let database: TestDatabase;
let redis: TestRedis | undefined;
const replicas: { child: ChildProcess; baseUrl: string }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
});

afterAll(async () => {
  for (const { child } of replicas) child.kill('SIGKILL');
  await redis?.dispose();
  await database.dispose();
});

/** An API replica in a process of its own (`ROLE=api`), as deployed. */
async function startApiReplica(): Promise<{ child: ChildProcess; baseUrl: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, ROLE: 'api', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, REDIS_URL: redis!.url, REDIS_KEY_PREFIX: redis!.prefix, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const replica = { child, baseUrl: `http://127.0.0.1:${port}` };
  replicas.push(replica);
  await vi.waitFor(() => expect(output).toContain('clickvote listening'), { timeout: 30_000, interval: 100 });
  return replica;
}

const shapeOf = (tally: Tally) => ({ count: tally.count, sum: tally.sum, up: tally.up, down: tally.down, histogram: tally.histogram });

describe('two API replicas after a rebuild', () => {
  it('answer their very first read from the new generation, equal to the log', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const project = await givenProjectWithPolls(database.db);
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    await castRandomVotes(appender, project.id, 300);
    await appender.close();
    const store = await RedisTallyStore.open(redis!.client, redis!.prefix);
    const projector = new Projector({ db: database.db, store, logger, batchSize: 100, pollIntervalMs: 50 });
    // A transaction elsewhere on the server can hold the log back a moment: project until it is all in.
    await vi.waitFor(
      async () => {
        await projector.catchUp();
        await expectTalliesToMatchLog(database.db, store, project.id);
      },
      { timeout: 20_000, interval: 100 },
    );
    const expected = await recomputeTallies(database.db, project.id);
    const wanted = (target: string) => shapeOf(expected.get(tallyIdOf({ projectId: project.id, poll: 'stars', target }))?.tally ?? emptyTally);
    const read = async (replica: { baseUrl: string }, url: string) => {
      const response = await fetch(replica.baseUrl + url, { headers: { authorization: `Bearer ${project.publicKey}` } });
      expect(response.status).toBe(200);
      return (await response.json()) as any;
    };
    const readTallies = async (replica: { baseUrl: string }) => {
      const { tallies } = await read(replica, `/v1/polls/stars/tallies?${targets.map((t) => `target=${t}`).join('&')}`);
      expect(tallies.map((t: Tally & { target: string }) => [t.target, shapeOf(t)])).toEqual(targets.map((t) => [t, wanted(t)]));
    };
    const readTop = async (replica: { baseUrl: string }) => {
      const { items } = await read(replica, '/v1/polls/stars/top?order=count&limit=10');
      expect(items.map((t: Tally & { target: string }) => [t.target, shapeOf(t)]).sort()).toEqual(
        targets.filter((t) => wanted(t).count > 0).map((t) => [t, wanted(t)]),
      );
    };
    const [first, second] = await Promise.all([startApiReplica(), startApiReplica()]);
    // Both have served reads before, then fall idle while a rebuild replaces the generation.
    await Promise.all([readTallies(first), readTop(first), readTallies(second), readTop(second)]);

    const rebuild = () => rebuildTallies({ db: database.db, redis: redis!.client, prefix: redis!.prefix, logger, batchSize: 50, unlinkAfterMs: 1000 });
    await (await rebuild()).oldGenerationUnlinked;
    await readTallies(first);
    await readTop(second);

    await (await rebuild()).oldGenerationUnlinked;
    await readTop(first);
    await readTallies(second);
  });
});
