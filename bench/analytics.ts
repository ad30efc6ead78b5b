import { sql } from 'kysely';
import { definePoll } from '../src/commands/polls.js';
import { createProject } from '../src/commands/projects.js';
import { pollActivity } from '../src/projections/log-queries/analytics.js';
import { type BenchRow, milliseconds } from './report.js';
import { createBenchDatabase, envNumber, fillZipfLog, timed } from './support.js';

/** The analytics query over a log of a million events: the 30-day range, answered from the log. */
export async function benchAnalytics(): Promise<BenchRow[]> {
  const events = envNumber('BENCH_ANALYTICS_EVENTS', 1_000_000);
  const database = await createBenchDatabase(2);
  try {
    const project = await createProject(database.db, 'bench');
    await definePoll(database.db, { projectId: project.id, name: 'votes', kind: 'updown' });
    await fillZipfLog(database.db, project.id, events, 100_000);
    // A bulk load leaves no visibility map or statistics; autovacuum would soon. Do it now.
    await sql`vacuum analyze vote_events`.execute(database.db);
    await pollActivity(database.db, { projectId: project.id, poll: 'votes' }, '30d', 'day');
    const runs = [0, 0, 0];
    for (let i = 0; i < runs.length; i += 1) runs[i] = await timed(() => pollActivity(database.db, { projectId: project.id, poll: 'votes' }, '30d', 'day'));
    const best = Math.min(...runs) * 1000;
    return [
      {
        scenario: `analytics, 30 days by day, ${events.toLocaleString('en-US')} events`,
        ours: `${milliseconds(best)} (best of 3, warm)`,
        baseline: '—',
        ratio: null,
        target: '<= 500 ms',
        met: best <= 500,
        peakRssMb: {},
        figures: { events, bestMs: best, runsMs: runs.reduce((a, b) => a + b, 0) * 1000 },
      },
    ];
  } finally {
    await database.dispose();
  }
}
