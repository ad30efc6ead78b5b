// `npm start` runs this first: it builds only when a source is newer than the last build, so a
// restart takes seconds instead of a full TypeScript build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const inputs = ['src', 'migrations', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

function newestChange(entry) {
  const stats = statSync(entry, { throwIfNoEntry: false });
  if (stats === undefined) return 0;
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(entry).reduce((newest, name) => Math.max(newest, newestChange(path.join(entry, name))), stats.mtimeMs);
}

const newestSource = Math.max(...inputs.map((input) => newestChange(path.join(root, input))));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built >= newestSource) {
  console.log('build is up to date (dist/ is newer than every source)');
} else {
  const startedAt = Date.now();
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  // The stamp takes the time the build started, so an edit made during the build is built next time.
  writeFileSync(stamp, '');
  utimesSync(stamp, startedAt / 1000, startedAt / 1000);
}
