import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { sql } from 'kysely';
import { castVote } from '../src/commands/cast-vote.js';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { VoteAppender } from '../src/commands/vote-appender.js';
import { createBenchDatabase, envNumber, formatRate, markdownTable, runClosedLoop } from './support.js';

/**
 * Command-path append throughput (no HTTP) against a same-run baseline: one INSERT per vote in
 * its own transaction, through a pool of the same size. Sizes come from the environment.
 */
const callerCounts = (process.env.BENCH_CALLERS ?? '1,32,256').split(',').map(Number);
const votesPerRun = envNumber('BENCH_APPEND_VOTES', 20_000);
const poolSize = envNumber('BENCH_POOL_SIZE', 10);
const targets = envNumber('BENCH_TARGETS', 100_000);

const database = await createBenchDatabase(poolSize);
const project = await createProject(database.db, 'bench');
await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
const randomBallot = () => ({ target: `t${Math.floor(Math.random() * targets)}`, voter: randomUUID() });

async function measureOurs(callers: number): Promise<number> {
  const appender = new VoteAppender(database.db, {
    windowMs: envNumber('APPEND_BATCH_WINDOW_MS', 0),
    maxBatch: envNumber('APPEND_MAX_BATCH', 256),
    maxConcurrentBatches: envNumber('APPEND_MAX_CONCURRENT_BATCHES', 4),
  });
  const total = Math.max(votesPerRun / (callers === 1 ? 10 : 1), 200);
  const rate = await runClosedLoop(callers, total, () =>
    castVote(appender, { projectId: project.id, poll: 'votes', ...randomBallot(), value: Math.random() < 0.5 ? 1 : -1 }),
  );
  await appender.close();
  return rate;
}

async function measureBaseline(callers: number): Promise<number> {
  const total = Math.max(votesPerRun / (callers === 1 ? 10 : 4), 200);
  return runClosedLoop(callers, total, async () => {
    const { target, voter } = randomBallot();
    await sql`
      insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, metadata, recorded_at)
      values (${randomUUID()}, ${project.id}, 'votes', ${target}, ${voter}, 1, 'VoteCast', 1, 0, '{}', now())
    `.execute(database.db);
  });
}

const rows: (string | number)[][] = [];
const results: { callers: number; ours: number; baseline: number; ratio: number }[] = [];
try {
  for (const callers of callerCounts) {
    const baseline = process.env.BENCH_SKIP_BASELINE === '1' ? Number.NaN : await measureBaseline(callers);
    const ours = await measureOurs(callers);
    results.push({ callers, ours, baseline, ratio: ours / baseline });
    rows.push([callers, formatRate(ours), formatRate(baseline), `${(ours / baseline).toFixed(1)}x`]);
  }
  if (process.env.BENCH_DEBUG === '1') {
    const { rows } = await sql`select relname, seq_scan, seq_tup_read, idx_scan, n_live_tup from pg_stat_user_tables`.execute(database.db);
    console.log(rows);
  }
} finally {
  await database.dispose();
}

console.log(`\nAppend, command path, no HTTP (${os.cpus().length} cores, pool ${poolSize}, ${votesPerRun} votes a run)\n`);
console.log(markdownTable(['callers', 'ours votes/s', 'baseline votes/s (INSERT per vote, own tx)', 'ratio'], rows));
const at256 = results.find((result) => result.callers === 256);
if (at256 !== undefined) {
  const meets = at256.ours >= 15_000 && at256.ratio >= 3;
  console.log(`\nTarget at 256 callers: >= 15,000 votes/s and >= 3x baseline: ${meets ? 'met' : 'NOT met'}`);
}
