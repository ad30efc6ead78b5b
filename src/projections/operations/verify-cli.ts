import { parseArgs } from 'node:util';
import { openCliConnections } from '../../platform/cli-connections.js';
import type { ProjectionLag } from '../log-queries/projection-lag.js';
import { verifyTallies } from './verify-tallies.js';

/**
 * `npm run verify [-- --wait <seconds>]`: exit 0 when the read model has reached the newest
 * committed event and every tally equals the log; 1 naming the first differences (wrong); 3 when
 * it is right as far as it got but did not reach the head within the wait (behind), naming why.
 */
const shown = 20;
const { values } = parseArgs({ options: { wait: { type: 'string', default: '30' } } });
const waitSeconds = Number(values.wait);
if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
  console.error(`verify: --wait must be a number of seconds (got ${JSON.stringify(values.wait)})`);
  process.exit(2);
}
const connections = await openCliConnections('npm run verify');
try {
  const report = await verifyTallies(connections.database.db, connections.redis, connections.config.REDIS_KEY_PREFIX, { waitMs: waitSeconds * 1000 });
  const where = `generation ${report.generation}, checkpoint ${report.checkpoint ?? 'none'}, log head ${report.head ?? 'none (empty log)'}`;
  if (report.fromAnotherLog) {
    console.log(`verify: the read model's checkpoint ${report.checkpoint} lies beyond every transaction of this database (${where}).`);
    console.log('  It was built from another copy of the log (a restore?). Rebuild it from this log: npm run replay.');
    process.exitCode = 1;
  } else if (report.differences.length > 0) {
    console.log(`verify: ${report.differences.length} of ${report.checked} tallies differ from the log (${where}):`);
    for (const { key, expected, actual } of report.differences.slice(0, shown)) {
      console.log(`  project ${key.projectId} poll ${JSON.stringify(key.poll)} target ${JSON.stringify(key.target)}`);
      console.log(`    log:        ${JSON.stringify(expected)}`);
      console.log(`    read model: ${JSON.stringify(actual)}`);
    }
    if (report.differences.length > shown) console.log(`  … and ${report.differences.length - shown} more`);
    if (report.behind !== undefined) console.log(`  It is also behind the log: ${describeLag(report.behind)}`);
    process.exitCode = 1;
  } else if (report.behind !== undefined) {
    console.log(`verify: the read model is behind the log after waiting ${waitSeconds} s (${where}).`);
    console.log(`  ${describeLag(report.behind)}`);
    console.log(`  The ${report.checked} tallies it holds match the log up to its checkpoint.`);
    process.exitCode = 3;
  } else {
    console.log(`verify: all ${report.checked} tallies match the log, up to its newest event (${where}).`);
  }
} finally {
  await connections.close();
}

function describeLag(lag: ProjectionLag): string {
  const figures = `about ${lag.events} events not applied, the oldest ${lag.seconds.toFixed(1)} s old`;
  const cause = lag.heldBackBy;
  if (cause === null) return `${figures}; nothing holds the projector back: is a projector running?`;
  switch (cause.kind) {
    case 'restored':
      return `${figures}; the log holds restored events whose transaction ids lie beyond this cluster's (from ${cause.transactionId}): run npm run migrate.`;
    case 'session':
      return `${figures}; held back by a transaction in database ${cause.database ?? '?'} (pid ${cause.pid}, ${cause.state ?? 'state unknown'}, open ${cause.ageSeconds.toFixed(0)} s): end it.`;
    case 'prepared':
      return `${figures}; held back by the prepared transaction ${JSON.stringify(cause.preparedAs)} in database ${cause.database ?? '?'} (${cause.ageSeconds.toFixed(0)} s old): COMMIT PREPARED or ROLLBACK PREPARED it.`;
    case 'unknown':
      return `${figures}; held back by transaction ${cause.transactionId}, which this role cannot see (grant it pg_read_all_stats).`;
  }
}
