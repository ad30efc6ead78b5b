import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { definePoll } from '../src/commands/polls.js';
import { connectRedis } from '../src/platform/redis.js';
import { serviceNodeOptions, startService } from './service.js';
import { createBenchDatabase, envNumber, fillZipfLog, formatRate, markdownTable, readWholeLog, timed } from './support.js';

/**
 * Blue/green rebuild (`npm run replay`, its own process) and the audit NDJSON export (through the
 * API process), both against the same-run baseline of one plain ordered SELECT of the same events.
 */
const totalEvents = envNumber('BENCH_REPLAY_EVENTS', 1_000_000);
const targets = envNumber('BENCH_REPLAY_TARGETS', 100_000);
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = path.resolve(import.meta.dirname, '..');

const database = await createBenchDatabase(2);
const redis = await connectRedis(redisUrl);
const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
const env = { DATABASE_URL: database.url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, MIGRATE_ON_START: 'false' };
const service = await startService(env);

try {
  const project = (await (
    await fetch(`${service.baseUrl}/v1/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'replay' }),
    })
  ).json()) as { id: string; secretKey: string };
  await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
  await fillZipfLog(database.db, project.id, totalEvents, targets);

  const baseline = await timed(() => readWholeLog(database.url, project.id));

  // Timed until the new generation is live; the grace period before unlinking is not replay work.
  let replayPeak = 0;
  const replay = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [...serviceNodeOptions.split(' '), 'dist/src/projections/replay-cli.js'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
        const sampler = setInterval(() => (replayPeak = Math.max(replayPeak, rssMb(child.pid))), 100);
        child.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('is live')) resolve();
        });
        child.once('exit', (code) => {
          clearInterval(sampler);
          if (code === 0) resolve();
          else reject(new Error(`replay exited with ${code}`));
        });
      }),
  );

  let lines = 0;
  const exportSeconds = await timed(async () => {
    const response = await fetch(`${service.baseUrl}/v1/audit/events`, { headers: { authorization: `Bearer ${project.secretKey}`, accept: 'application/x-ndjson' } });
    for await (const chunk of response.body!) lines += countNewlines(chunk as Uint8Array);
  });
  if (lines !== totalEvents) throw new Error(`the export gave ${lines} lines for ${totalEvents} events`);

  const rate = (seconds: number) => formatRate(totalEvents / seconds);
  console.log(`\nReplay and export: ${totalEvents.toLocaleString('en-US')} events, ${targets.toLocaleString('en-US')} Zipf-skewed targets\n`);
  console.log(
    markdownTable(
      ['scenario', 'ours events/s', 'baseline events/s (one ordered SELECT)', 'ratio', 'peak RSS MB', 'target'],
      [
        ['rebuild (npm run replay, its own process)', rate(replay), rate(baseline), `${(baseline / replay).toFixed(2)}x`, replayPeak.toFixed(0), '>= 150,000/s'],
        ['NDJSON export through the API', rate(exportSeconds), rate(baseline), `${(baseline / exportSeconds).toFixed(2)}x`, service.peakRssMb().toFixed(0), '>= 100,000/s, API RSS < 200 MB'],
      ],
    ),
  );
} finally {
  await service.stop();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}[:_]*`, COUNT: 1000 })) if (keys.length > 0) await redis.unlink(keys);
  await redis.quit();
  await database.dispose();
}

function countNewlines(chunk: Uint8Array): number {
  let count = 0;
  for (const byte of chunk) if (byte === 10) count += 1;
  return count;
}

function rssMb(pid: number | undefined): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}
