import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { containers, engine, engineProblem, runCommand } from './engine.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The image under test; empty when the tier is skipped. */
    image: string;
    skipReason: string;
  }
}

const root = path.resolve(import.meta.dirname, '../../..');

/**
 * Builds the image once for the tier, from what a clean clone holds (never node_modules, dist or a
 * developer's .env), or takes CLICKVOTE_TEST_IMAGE as built elsewhere (the image workflow).
 */
export default async function buildImageOnce(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const problem = await engineProblem();
  if (problem !== undefined) {
    console.warn(`\n*** Container tier SKIPPED: ${problem} ***\n`);
    project.provide('image', '');
    project.provide('skipReason', problem);
    return undefined;
  }
  project.provide('skipReason', '');
  const given = process.env.CLICKVOTE_TEST_IMAGE;
  if (given !== undefined && given !== '') {
    project.provide('image', given);
    return undefined;
  }
  const context = await cleanCloneOf(root);
  const tag = `localhost/clickvote-es:test-${process.pid}-${Date.now().toString(36)}`;
  try {
    const started = performance.now();
    const format = engine === 'podman' ? ['--format', 'docker'] : []; // keeps HEALTHCHECK
    const revision = (await runCommand(['git', 'rev-parse', 'HEAD'], { cwd: root })).stdout.trim();
    await containers('build', ...format, '--build-arg', `REVISION=${revision}`, '--tag', tag, context);
    console.log(`containers: built ${tag} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  project.provide('image', tag);
  return async () => {
    await containers('rmi', tag).catch((error: Error) => console.warn(`containers: could not remove ${tag}: ${error.message}`));
  };
}

/** A copy of the files git tracks or would track, plus a decoy .env the image must not take in. */
async function cleanCloneOf(folder: string): Promise<string> {
  const listing = await runCommand(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: folder });
  if (listing.code !== 0) throw new Error(`git ls-files failed: ${listing.stderr}`);
  const context = await mkdtemp(path.join(os.tmpdir(), 'clickvote-image-'));
  for (const file of listing.stdout.split('\0').filter((name) => name !== '' && existsSync(path.join(folder, name)))) {
    await cp(path.join(folder, file), path.join(context, file), { recursive: true });
  }
  await writeFile(path.join(context, '.env'), 'ADMIN_TOKEN=decoy-that-must-not-reach-the-image\n');
  return context;
}
