import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { castVote } from '../src/commands/cast-vote.js';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { VoteAppender } from '../src/commands/vote-appender.js';
import { type BenchRow, perSecond } from './report.js';
import { createBenchDatabase, envNumber, runClosedLoop } from './support.js';

/**
 * Command-path append throughput (no HTTP) against a same-run baseline: one INSERT per vote in
 * its own transaction, through a pool of the same size.
 */
export async function benchAppend(): Promise<BenchRow[]> {
  const callerCounts = (process.env.BENCH_CALLERS ?? '1,32,256').split(',').map(Number);
  const votesPerRun = envNumber('BENCH_APPEND_VOTES', 20_000);
  const poolSize = envNumber('BENCH_POOL_SIZE', 10);
  const targets = envNumber('BENCH_TARGETS', 100_000);
  const database = await createBenchDatabase(poolSize);
  try {
    const project = await createProject(database.db, 'bench');
    await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    const randomBallot = () => ({ target: `t${Math.floor(Math.random() * targets)}`, voter: randomUUID() });

    const measureOurs = async (callers: number) => {
      const appender = new VoteAppender(database.db, { windowMs: 0, maxBatch: 256, maxConcurrentBatches: 4 });
      const rate = await runClosedLoop(callers, Math.max(votesPerRun / (callers === 1 ? 10 : 1), 200), () =>
        castVote(appender, { projectId: project.id, poll: 'votes', ...randomBallot(), value: Math.random() < 0.5 ? 1 : -1 }),
      );
      await appender.close();
      return rate;
    };
    const measureBaseline = (callers: number) =>
      runClosedLoop(callers, Math.max(votesPerRun / (callers === 1 ? 10 : 4), 200), async () => {
        const { target, voter } = randomBallot();
        await sql`
          insert into vote_events (event_id, project_id, poll, target, voter, stream_version, type, value, previous, metadata, recorded_at)
          values (${randomUUID()}, ${project.id}, 'votes', ${target}, ${voter}, 1, 'VoteCast', 1, 0, '{}', now())
        `.execute(database.db);
      });

    const rows: BenchRow[] = [];
    for (const callers of callerCounts) {
      const baseline = await measureBaseline(callers);
      const ours = await measureOurs(callers);
      const decisive = callers === 256;
      rows.push({
        scenario: `append, command path, ${callers} caller${callers === 1 ? '' : 's'}`,
        ours: perSecond(ours),
        baseline: `${perSecond(baseline)} (INSERT per vote, own transaction)`,
        ratio: ours / baseline,
        target: decisive ? '>= 15,000/s and >= 3x' : '—',
        met: decisive ? ours >= 15_000 && ours / baseline >= 3 : null,
        peakRssMb: {},
        figures: { callers, oursPerSecond: ours, baselinePerSecond: baseline },
      });
    }
    return rows;
  } finally {
    await database.dispose();
  }
}
