import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VoteAppender } from '../../src/commands/vote-appender.js';
import { RedisTallyStore } from '../../src/projections/redis-tally-store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { givenProjectWithPolls } from '../support/fixtures.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';
import { castRandomVotes, expectTalliesToMatchLog } from '../support/votes.js';

const root = path.resolve(import.meta.dirname, '../..');
let database: TestDatabase;
let redis: TestRedis | undefined;
const processes: { child: ChildProcess; output: string[] }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
});

afterAll(async () => {
  for (const { child } of processes) child.kill('SIGKILL');
  await redis?.dispose();
  await database.dispose();
});

/** A real projector process, as `ROLE=projector` runs in production. */
function startProjectorProcess(): { child: ChildProcess; output: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ROLE: 'projector',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: redis!.url,
      REDIS_KEY_PREFIX: redis!.prefix,
      PROJECTOR_POLL_INTERVAL_MS: '100',
      PROJECTOR_BATCH_SIZE: '50',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const started = { child, output };
  processes.push(started);
  return started;
}

const leads = (p: { output: string[] }) => p.output.join('').includes('projector is the leader');

const eventually = (check: () => unknown) => vi.waitFor(check, { timeout: 20_000, interval: 100 });

describe('two projector processes on one log', () => {
  it('let one lead while the other waits, and the standby finishes when the leader is killed', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const projectId = (await givenProjectWithPolls(database.db)).id;
    const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 64, maxConcurrentBatches: 2 });
    const store = await RedisTallyStore.open(redis!.client, redis!.prefix);
    const pair = [startProjectorProcess(), startProjectorProcess()];

    await eventually(() => expect(pair.filter(leads)).toHaveLength(1));
    for (let round = 0; round < 5; round += 1) await castRandomVotes(appender, projectId, 100);
    await eventually(() => expectTalliesToMatchLog(database.db, store, projectId));

    const leader = pair.find(leads)!;
    const standby = pair.find((p) => p !== leader)!;
    expect(leads(standby)).toBe(false);
    leader.child.kill('SIGKILL');
    for (let round = 0; round < 5; round += 1) await castRandomVotes(appender, projectId, 100);

    await eventually(() => expect(leads(standby)).toBe(true));
    await eventually(() => expectTalliesToMatchLog(database.db, store, projectId));
    await appender.close();
  });
});
