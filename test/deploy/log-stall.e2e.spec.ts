import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startBuiltService } from '../support/built-service.js';

describe('the built service with stdout on a pipe nobody reads', () => {
  it('keeps answering 3,000 requests at LOG_LEVEL=info, counts the lines it drops, and exits 0 on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clickvote-log-stall-'));
    try {
      const service = await startBuiltService({ DATA_DIR: dataDir, LOG_LEVEL: 'info' }, { stdout: 'unread' });
      const { publicKey } = JSON.parse(await readFile(path.join(dataDir, 'demo-project.json'), 'utf8')) as { publicKey: string };
      // Long targets make long request lines (voter ids are never logged), so the pipe and the log buffer fill well before the end.
      const statuses: number[] = [];
      let next = 0;
      const reader = async () => {
        for (let i = next++; i < 3000; i = next++) {
          const response = await fetch(`${service.url}/v1/polls/likes/tallies/${'t'.repeat(200)}${i}?voter=v${i}`, {
            headers: { authorization: `Bearer ${publicKey}` },
            signal: AbortSignal.timeout(30_000),
          });
          await response.arrayBuffer();
          statuses.push(response.status);
        }
      };
      await Promise.all(Array.from({ length: 8 }, reader));
      expect(statuses.length).toBe(3000);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);

      const metrics = await (await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
      const dropped = Number(/^clickvote_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1]);
      expect(dropped).toBeGreaterThan(0);

      // The process's own watchdog exits 1 after 10 s, so exit code 0 also says it stopped in time;
      // the 30 s below only keeps a hung process from hanging the suite.
      const code = await Promise.race([service.stop(), new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000))]);
      if (service.running()) await service.stop('SIGKILL');
      console.log(`log stall: ${JSON.stringify({ requests: statuses.length, answered200: statuses.filter((s) => s === 200).length, droppedLines: dropped, exitCode: code })}`);
      expect(code).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
