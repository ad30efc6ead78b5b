import { pino } from 'pino';
import { openCliConnections } from '../../platform/cli-connections.js';
import { type RebuildProgress, rebuildTallies } from './rebuild.js';

/** `npm run replay`: a blue/green rebuild of the tallies, with progress on the terminal. */
const connections = await openCliConnections('npm run replay');
const { config, database, redis } = connections;
const terminal = process.stdout.isTTY === true;
let lastLine = 0;

function show(progress: RebuildProgress): void {
  const share = progress.eventsTotal === 0 ? 1 : Math.min(1, progress.eventsDone / progress.eventsTotal);
  const figures = `${progress.eventsDone.toLocaleString('en-US')}/${progress.eventsTotal.toLocaleString('en-US')} events, ${Math.round(progress.eventsPerSecond).toLocaleString('en-US')}/s, ETA ${progress.etaSeconds === null ? '?' : `${Math.ceil(progress.etaSeconds)} s`}`;
  if (terminal) {
    const width = 30;
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
    process.stdout.write(`\r[${bar}] ${(share * 100).toFixed(0).padStart(3)}% ${figures}   `);
  } else if (Date.now() - lastLine >= 2000 || progress.status === 'flipped') {
    lastLine = Date.now();
    console.log(`replay generation ${progress.generation}: ${(share * 100).toFixed(1)}% ${figures}`);
  }
}

try {
  const result = await rebuildTallies({
    db: database.db,
    redis,
    prefix: config.REDIS_KEY_PREFIX,
    logger: pino({ level: 'warn' }),
    batchSize: config.PROJECTOR_BATCH_SIZE,
    // Set: the new generation is split into this many partitions; unset: as many as the live one.
    partitions: config.PROJECTOR_PARTITIONS,
    replicasToAcknowledge: config.REDIS_REPLICAS_TO_ACKNOWLEDGE,
    onProgress: show,
  });
  if (terminal) process.stdout.write('\n');
  console.log(`Generation ${result.generation} is live: ${result.eventsDone.toLocaleString('en-US')} events replayed.`);
  console.log(`Unlinked ${await result.oldGenerationUnlinked} keys of the old generation.`);
} catch (error) {
  if (terminal) process.stdout.write('\n');
  console.error(`replay failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await connections.close();
}
