import { openCliDatabase } from '../../platform/cli-connections.js';
import { exportLog } from '../log-queries/log-export.js';

/** `npm run export > backup.ndjson`: every project, poll and event as NDJSON on stdout (see log-export.ts). */
const database = await openCliDatabase();
let readerGone = false;
process.stdout.on('error', () => (readerGone = true));
try {
  await exportLog(database.db, async (lines) => {
    if (readerGone) return false;
    if (!process.stdout.write(lines.join('\n') + '\n')) {
      await new Promise<void>((resolve) => {
        process.stdout.once('drain', resolve);
        process.stdout.once('error', resolve);
      });
    }
    return !readerGone;
  });
  if (readerGone) process.exitCode = 1;
} catch (error) {
  console.error(`export failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
