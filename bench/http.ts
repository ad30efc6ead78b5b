import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { connectRedis } from '../src/platform/redis.js';
import { openEmmettAppends } from './emmett.js';
import { connections, httpContender, interleave, type Load, type Request } from './http-load.js';
import { type BenchRow, milliseconds, perSecond } from './report.js';
import { createProjectWithPoll, freePort, processRssMb, serviceNodeOptions, startService } from './service.js';
import { benchRedisUrl, createBenchDatabase, deleteBenchKeys, envNumber } from './support.js';

/**
 * HTTP scenarios with autocannon (100 connections) against the built API process (its projector
 * runs beside it, as deployed), each next to a bare express 5 route in the same kind of process;
 * the vote path also next to Emmett's PostgreSQL event store appending from as many callers;
 * then the API's RSS after mixed load. Each comparison runs its contenders in alternating slices
 * of BENCH_HTTP_SLICE_SECONDS.
 */
export async function benchHttp(): Promise<BenchRow[]> {
  const seconds = envNumber('BENCH_HTTP_SECONDS', 10);
  const mixedSeconds = envNumber('BENCH_MIXED_SECONDS', 60);
  const sliceSeconds = envNumber('BENCH_HTTP_SLICE_SECONDS', 2);
  const targets = 1000;
  const database = await createBenchDatabase(1);
  const prefix = `cvbench_${randomBytes(4).toString('hex')}`;
  const redis = await connectRedis(benchRedisUrl);
  // As deployed: API and projector are separate processes (compose, Kubernetes).
  const shared = { DATABASE_URL: database.url, REDIS_URL: benchRedisUrl, REDIS_KEY_PREFIX: prefix };
  const service = await startService({ ...shared, ROLE: 'api', MIGRATE_ON_START: 'true' });
  const projector = await startService({ ...shared, ROLE: 'projector' });
  const bare = await startBareServer();
  const emmett = await openEmmettAppends(connections);
  try {
    const project = await createProjectWithPoll(service);
    // Fresh header objects for every request: autocannon writes Content-Length into the ones it gets.
    const auth = () => ({ authorization: `Bearer ${project.publicKey}` });
    const json = () => ({ ...auth(), 'content-type': 'application/json' });
    const randomTarget = () => `t${Math.floor(Math.random() * targets)}`;
    const voteRequest = (): Request => ({
      method: 'POST',
      path: '/v1/polls/votes/votes',
      headers: json(),
      body: JSON.stringify({ target: randomTarget(), voter: randomBytes(6).toString('hex'), value: Math.random() < 0.5 ? 1 : -1 }),
    });
    const readRequest = (): Request => ({ method: 'GET', path: `/v1/polls/votes/tallies/${randomTarget()}`, headers: auth() });
    const batchPath = `/v1/polls/votes/tallies?${Array.from({ length: 50 }, (_, i) => `target=t${i * 7}`).join('&')}`;

    const ours = { url: service.baseUrl, pid: service.child.pid };
    const [castOurs, castBare, emmettAppends] = await interleave(seconds, sliceSeconds, [
      httpContender(ours, [voteRequest]),
      httpContender(bare, [voteRequest]),
      emmett.contender,
    ] as const);
    const [readOurs, readBare, batchOurs] = await interleave(seconds, sliceSeconds, [
      httpContender(ours, [readRequest]),
      httpContender(bare, [readRequest]),
      httpContender(ours, [() => ({ method: 'GET', path: batchPath, headers: auth() })]),
    ] as const);
    await httpContender(ours, [readRequest, readRequest, readRequest, voteRequest])(mixedSeconds);
    const apiRssAfterMixed = processRssMb(service.child.pid);

    const row = (scenario: string, ours: Load, baseline: Load, target: string, minimum: number): BenchRow => ({
      scenario,
      ours: `${perSecond(ours.rate)}, p99 ${milliseconds(ours.p99)}, ${microseconds(ours.cpuPerRequest)} CPU`,
      baseline: `${perSecond(baseline.rate)}, p99 ${milliseconds(baseline.p99)}, ${microseconds(baseline.cpuPerRequest)} CPU (bare express route)`,
      ratio: ours.rate / baseline.rate,
      target,
      met: ours.failed === 0 && ours.rate / baseline.rate >= minimum,
      peakRssMb: { api: service.peakRssMb(), projector: projector.peakRssMb(), bare: bare.peakRssMb() },
      figures: {
        oursPerSecond: ours.rate,
        oursP99Ms: ours.p99,
        oursFailed: ours.failed,
        oursCpuUsPerRequest: ours.cpuPerRequest,
        baselinePerSecond: baseline.rate,
        baselineP99Ms: baseline.p99,
        baselineCpuUsPerRequest: baseline.cpuPerRequest,
      },
    });
    const batchTallies = batchOurs.rate * 50;
    return [
      row('HTTP cast vote, 100 connections', castOurs, castBare, 'ratio >= 0.5', 0.5),
      {
        scenario: 'HTTP cast vote vs Emmett appends, 100 callers',
        ours: `${perSecond(castOurs.rate)}, p99 ${milliseconds(castOurs.p99)}`,
        baseline: `${perSecond(emmettAppends.rate)} (Emmett PostgreSQL appendToStream, one event per new stream, no HTTP)`,
        ratio: castOurs.rate / emmettAppends.rate,
        target: 'ratio >= 1.5',
        met: castOurs.failed === 0 && emmettAppends.failed === 0 && castOurs.rate / emmettAppends.rate >= 1.5,
        peakRssMb: { api: service.peakRssMb() },
        figures: { oursPerSecond: castOurs.rate, emmettPerSecond: emmettAppends.rate, emmettFailed: emmettAppends.failed },
      },
      row('HTTP read one tally, 100 connections', readOurs, readBare, 'ratio >= 0.75', 0.75),
      {
        scenario: 'HTTP batch read of 50 tallies',
        ours: `${perSecond(batchTallies)} tallies`,
        baseline: `${perSecond(readOurs.rate)} tallies (single reads)`,
        ratio: batchTallies / readOurs.rate,
        target: '>= 15x',
        met: batchOurs.failed === 0 && batchTallies / readOurs.rate >= 15,
        peakRssMb: { api: service.peakRssMb() },
        figures: { talliesPerSecond: batchTallies, singleReadsPerSecond: readOurs.rate },
      },
      {
        scenario: `API RSS after ${mixedSeconds} s of mixed load (3 reads : 1 vote)`,
        ours: `${Math.round(apiRssAfterMixed)} MB`,
        baseline: '—',
        ratio: null,
        target: '<= 150 MB',
        met: apiRssAfterMixed <= 150,
        peakRssMb: { api: service.peakRssMb() },
        figures: { rssMb: apiRssAfterMixed, seconds: mixedSeconds },
      },
    ];
  } finally {
    await emmett.close();
    await bare.stop();
    await projector.stop();
    await service.stop();
    await deleteBenchKeys(redis, prefix);
    await redis.quit();
    await database.dispose();
  }
}

const microseconds = (value: number) => `${Math.round(value)} µs`;

async function startBareServer(): Promise<{ url: string; pid: number | undefined; peakRssMb(): number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...serviceNodeOptions.split(' '), path.resolve(import.meta.dirname, 'bare-server.mjs')], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'inherit',
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, processRssMb(child.pid))), 100);
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    pid: child.pid,
    peakRssMb: () => peak,
    stop: async () => {
      clearInterval(sampler);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
