import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchAnalytics } from './analytics.js';
import { benchAppend } from './append.js';
import { benchFreshness } from './freshness.js';
import { benchHttp } from './http.js';
import { benchProjector } from './projector.js';
import { benchReplayAndExport } from './replay-and-export.js';
import { type BenchRow, renderTable } from './report.js';

/**
 * `npm run bench [scenario…]`: every scenario (or the named ones) against the local PostgreSQL
 * and Redis; prints one markdown table and writes bench/results.json. `npm run bench:smoke` runs
 * them all at small sizes, to prove the harness works, never to judge a figure.
 */
const scenarios: Record<string, () => Promise<BenchRow[]>> = {
  append: benchAppend,
  http: benchHttp,
  freshness: benchFreshness,
  projector: benchProjector,
  replay: benchReplayAndExport,
  analytics: benchAnalytics,
};

const smokeSizes: Record<string, string> = {
  BENCH_CALLERS: '1,32,256',
  BENCH_APPEND_VOTES: '2000',
  BENCH_HTTP_SECONDS: '1',
  BENCH_MIXED_SECONDS: '2',
  BENCH_FRESHNESS_RATE: '200',
  BENCH_FRESHNESS_SECONDS: '2',
  BENCH_PROJECTOR_EVENTS: '20000',
  BENCH_PROJECTOR_TARGETS: '2000',
  BENCH_PARTITION_EVENTS: '20000',
  BENCH_REPLAY_EVENTS: '20000',
  BENCH_REPLAY_TARGETS: '2000',
  BENCH_ANALYTICS_EVENTS: '20000',
};

const smoke = process.argv.includes('--smoke');
if (smoke) for (const [name, value] of Object.entries(smokeSizes)) process.env[name] ??= value;
const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const unknown = chosen.filter((name) => scenarios[name] === undefined);
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}

const rows: BenchRow[] = [];
const failures: string[] = [];
for (const name of chosen.length > 0 ? chosen : Object.keys(scenarios)) {
  console.error(`running ${name}…`);
  try {
    rows.push(...(await scenarios[name]!()));
  } catch (error) {
    failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`\n${smoke ? 'Smoke run (small sizes: figures mean nothing)' : 'Benchmark'} on ${machine}\n`);
console.log(renderTable(rows));
const file = path.resolve(import.meta.dirname, smoke ? 'results-smoke.json' : 'results.json');
await writeFile(file, JSON.stringify({ at: new Date().toISOString(), machine, smoke, rows, failures }, null, 2));
console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
if (failures.length > 0) {
  console.error(`\n${failures.length} scenario(s) failed:\n${failures.join('\n')}`);
  process.exit(1);
}
