import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Deploy and browser tests run the build output: built once (only when stale), as `npm start` does. */
export default function buildOnce(): void {
  execFileSync('node', ['scripts/build-if-stale.mjs'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'ignore' });
}
