import { openCliConnections } from '../platform/cli-connections.js';
import { verifyTallies } from './verify-tallies.js';

/** `npm run verify`: exit 0 when every tally equals the log, 1 naming the first differences. */
const shown = 20;
const connections = await openCliConnections('npm run verify');
try {
  const report = await verifyTallies(connections.database.db, connections.redis, connections.config.REDIS_KEY_PREFIX);
  const where = `generation ${report.generation}, up to ${report.checkpoint ?? 'the start of the log'}`;
  if (report.differences.length === 0) {
    console.log(`verify: all ${report.checked} tallies match the log (${where}).`);
  } else {
    console.log(`verify: ${report.differences.length} of ${report.checked} tallies differ from the log (${where}):`);
    for (const { key, expected, actual } of report.differences.slice(0, shown)) {
      console.log(`  project ${key.projectId} poll ${JSON.stringify(key.poll)} target ${JSON.stringify(key.target)}`);
      console.log(`    log:        ${JSON.stringify(expected)}`);
      console.log(`    read model: ${JSON.stringify(actual)}`);
    }
    if (report.differences.length > shown) console.log(`  … and ${report.differences.length - shown} more`);
    process.exitCode = 1;
  }
} finally {
  await connections.close();
}
