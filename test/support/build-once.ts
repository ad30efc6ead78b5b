import { execFileSync } from 'node:child_process';
import path from 'node:path';

export default function buildOnce(): void {
  execFileSync('npm', ['run', 'build'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'ignore' });
}
