import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { definePoll } from '../src/commands/polls.js';
import { connectRedis } from '../src/platform/redis.js';
import { type BenchRow, perSecond } from './report.js';
import { createProjectWithPoll, processRssMb, serviceNodeOptions, startService } from './service.js';
import { benchRedisUrl, createBenchDatabase, deleteBenchKeys, envNumber, fillZipfLog, readWholeLog, timed } from './support.js';

/**
 * Blue/green rebuild (`npm run replay`, its own process) and the audit NDJSON export (through the
 * API process), both against the same-run baseline of one plain ordered SELECT of the same events.
 */
export async function benchReplayAndExport(): Promise<BenchRow[]> {
  const totalEvents = envNumber('BENCH_REPLAY_EVENTS', 1_000_000);
  const targets = envNumber('BENCH_REPLAY_TARGETS', 100_000);
  const root = path.resolve(import.meta.dirname, '..');
  const database = await createBenchDatabase(2);
  const redis = await connectRedis(benchRedisUrl);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  const env = { DATABASE_URL: database.url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix, MIGRATE_ON_START: 'false' };
  // The API alone: a projector in the same process would be folding the bulk-loaded log meanwhile.
  const apiEnv = { ...env, ROLE: 'api' };
  const service = await startService(apiEnv);
  try {
    const project = await createProjectWithPoll(service);
    await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    await fillZipfLog(database.db, project.id, totalEvents, targets);
    // A bulk load leaves no statistics; without them the planner sorts the whole project for
    // every export page. Autovacuum would analyze soon; do it now.
    await sql`vacuum analyze vote_events`.execute(database.db);
    const baseline = totalEvents / (await timed(() => readWholeLog(database.url, project.id)));

    // Timed until the new generation is live; the grace period before unlinking is not replay work.
    let replayPeak = 0;
    const replaySeconds = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [...serviceNodeOptions.split(' '), 'dist/src/projections/operations/replay-cli.js'], {
            cwd: root,
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          const sampler = setInterval(() => (replayPeak = Math.max(replayPeak, processRssMb(child.pid))), 100);
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
      for await (const chunk of response.body!) for (const byte of chunk as Uint8Array) if (byte === 10) lines += 1;
    });
    if (lines !== totalEvents) throw new Error(`the export gave ${lines} lines for ${totalEvents} events`);
    const replay = totalEvents / replaySeconds;
    const exported = totalEvents / exportSeconds;
    const apiPeak = service.peakRssMb();
    const baselineText = `${perSecond(baseline)} (one ordered SELECT)`;
    return [
      {
        scenario: `rebuild (npm run replay), ${totalEvents.toLocaleString('en-US')} events`,
        ours: perSecond(replay),
        baseline: baselineText,
        ratio: replay / baseline,
        target: '>= 0.3x, process start included',
        met: replay / baseline >= 0.3,
        peakRssMb: { replay: replayPeak },
        figures: { events: totalEvents, oursPerSecond: replay, baselinePerSecond: baseline },
      },
      {
        scenario: `NDJSON audit export, ${totalEvents.toLocaleString('en-US')} events`,
        ours: perSecond(exported),
        baseline: baselineText,
        ratio: exported / baseline,
        target: '>= 100,000/s, API RSS < 200 MB',
        met: exported >= 100_000 && apiPeak < 200,
        peakRssMb: { api: apiPeak },
        figures: { events: totalEvents, oursPerSecond: exported, baselinePerSecond: baseline },
      },
    ];
  } finally {
    await service.stop();
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    await database.dispose();
  }
}
