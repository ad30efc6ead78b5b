import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

describe('npm start', () => {
  it('skips the build when dist/ is newer than every source (the test run built it once)', () => {
    const output = execFileSync('node', ['scripts/build-if-stale.mjs'], { cwd: root, encoding: 'utf8' });
    expect(output).toContain('build is up to date');
    expect(output).not.toContain('tsc');
  });
});
