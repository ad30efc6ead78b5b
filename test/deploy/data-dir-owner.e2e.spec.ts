import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltService, runBuiltServiceToExit, startBuiltService } from '../support/built-service.js';

describe('the embedded database', () => {
  let dataDir: string;
  let otherDataDir: string;
  let first: BuiltService;
  let publicKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'clickvote-owner-'));
    otherDataDir = await mkdtemp(path.join(os.tmpdir(), 'clickvote-owner-other-'));
    first = await startBuiltService({ DATA_DIR: dataDir });
    publicKey = (JSON.parse(await readFile(path.join(dataDir, 'demo-project.json'), 'utf8')) as { publicKey: string }).publicKey;
  }, 120_000);

  afterAll(async () => {
    await first.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    await rm(otherDataDir, { recursive: true, force: true });
  });

  const vote = (service: BuiltService, voter: string) =>
    fetch(`${service.url}/v1/polls/likes/votes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publicKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'owned', voter, value: 1 }),
    });
  const countOf = async (service: BuiltService) =>
    ((await (await fetch(`${service.url}/v1/polls/likes/tallies/owned`, { headers: { authorization: `Bearer ${publicKey}` } })).json()) as { count: number }).count;

  it('has one owner: a second process on the same DATA_DIR exits 1 with one line naming the directory and the owner, and the first keeps serving', async () => {
    expect((await vote(first, 'before')).status).toBe(200);
    const second = await runBuiltServiceToExit({ DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^DATA_DIR (.+) is in use by process (\d+) on (.+) \(since .+\): stop that process or set another DATA_DIR$/);
    expect(lines[0]).toContain(`DATA_DIR ${path.resolve(dataDir)} is in use by process ${first.pid} on ${os.hostname()} `);
    expect(first.running()).toBe(true);
    expect((await vote(first, 'after')).status).toBe(200);
    expect(await countOf(first)).toBe(2);
  }, 120_000);

  it('exits 1 with one line, not a stack trace, when the port is taken', async () => {
    const port = new URL(first.url).port;
    const second = await runBuiltServiceToExit({ DATA_DIR: otherDataDir, PORT: port });
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([`Cannot listen on 127.0.0.1:${port}: the port is in use by another process (set PORT or HOST)`]);
    expect(first.running()).toBe(true);
  }, 120_000);

  it('is free again once its owner dies, with every acknowledged vote kept', async () => {
    await first.stop('SIGKILL');
    const next = await startBuiltService({ DATA_DIR: dataDir });
    try {
      expect(await countOf(next)).toBe(2);
    } finally {
      expect(await next.stop()).toBe(0);
    }
  }, 120_000);
});
