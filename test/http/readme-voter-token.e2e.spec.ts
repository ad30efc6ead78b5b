import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createProjectOverHttp, startTestApp, type TestApp } from '../support/app.js';

const root = path.resolve(import.meta.dirname, '../..');
let app: TestApp;
let project: { id: string; publicKey: string; secretKey: string };

beforeAll(async () => {
  app = await startTestApp();
  project = await createProjectOverHttp(app, 'readme', { likes: { kind: 'like' } });
  await call(app, 'PATCH', '/v1/projects/current', { key: project.secretKey, body: { voterPolicy: 'signed' } });
});

afterAll(() => app.close());

/** The code block after `<!-- voter-token-example:<name> -->` in the README, exactly as a reader copies it. */
async function readmeSnippet(name: string): Promise<string> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- voter-token-example:${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (match === null) throw new Error(`no ${name} example in the README`);
  return match[1]!;
}

/** Runs the snippet in its own Node process, with nothing of this project but the environment a site would set. */
async function tokenFromSnippet(name: string, voter: string): Promise<string> {
  // Inside node_modules, so the jose example finds jose the way a site's own install would.
  const folder = path.join(root, 'node_modules', '.cache', 'clickvote-readme');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, `${name}.mjs`), await readmeSnippet(name));
  const runner = path.join(folder, `run-${name}.mjs`);
  await writeFile(runner, `import { clickvoteVoterToken } from './${name}.mjs';\nconsole.log(await clickvoteVoterToken(${JSON.stringify(voter)}));\n`);
  const env = { PATH: process.env.PATH ?? '', CLICKVOTE_PROJECT_ID: project.id, CLICKVOTE_SECRET_KEY: project.secretKey };
  const { stdout } = await promisify(execFile)(process.execPath, [runner], { env });
  return stdout.trim();
}

describe('the README\'s voter token examples', () => {
  it.each(['node', 'jose'])('sign a token (%s) that a signed project takes as that voter', async (name) => {
    const token = await tokenFromSnippet(name, `reader-${name}`);
    const vote = await call(app, 'POST', '/v1/polls/likes/votes', { key: project.publicKey, body: { target: 'post', value: 1 }, headers: { 'clickvote-voter': token } });
    expect(vote).toMatchObject({ status: 200, body: { voter: `reader-${name}`, changed: true } });
  });
});
