import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

/** `node dist/src/main.js` as the image runs it; each of these must stop before opening anything. */
async function startBuilt(env: Record<string, string>) {
  const result = await run(process.execPath, ['dist/src/main.js'], {
    cwd: root,
    // A DATA_DIR of its own, should a regression let it start.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATA_DIR: path.join(os.tmpdir(), `clickvote-refused-${process.pid}`), ...env },
    timeout: 30_000,
  }).catch((error: { code: number; stderr: string }) => error);
  return { code: (result as { code?: number }).code, lines: String((result as { stderr: string }).stderr ?? '').trim().split('\n') };
}

describe('the built service', () => {
  it.each([
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'change-me-at-least-16-characters' }],
    ['CLIENT_ADDRESS_HASH_KEY', { CLIENT_ADDRESS_HASH_KEY: 'change-me-at-least-16-characters' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://clickvote:change-me@127.0.0.1:1/clickvote', REDIS_URL: 'redis://127.0.0.1:1' }],
  ])('refuses to start with the shipped placeholder in %s, in one line naming it', async (variable, env) => {
    const { code, lines } = await startBuilt(env);
    expect(code).toBe(1);
    expect(lines).toEqual([`Invalid environment variable ${variable}: ${variable === 'DATABASE_URL' ? 'the password' : variable === 'ADMIN_TOKEN' ? 'the token' : 'the key'} is still the shipped placeholder; set a secret of your own`]);
  });

  it('refuses to start with a TRUST_PROXY Express cannot take, in one line naming it', async () => {
    const { code, lines } = await startBuilt({ TRUST_PROXY: 'the-load-balancer' });
    expect(code).toBe(1);
    expect(lines).toEqual(['Invalid environment variable TRUST_PROXY (got "the-load-balancer"): must be true, false, a hop count, or comma-separated addresses and subnets']);
  });
});

describe('the Kubernetes kustomization', () => {
  it('applies every manifest but the example Secret, which would replace the real one with placeholders', async () => {
    const folder = path.join(root, 'deploy/k8s');
    const { resources } = parse(await readFile(path.join(folder, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(resources).not.toContain('secret.example.yaml');
    for (const resource of resources) expect(existsSync(path.join(folder, resource)), resource).toBe(true);
    expect(existsSync(path.join(folder, 'secret.example.yaml'))).toBe(true);
    expect(await readFile(path.join(root, 'README.md'), 'utf8')).toContain('deploy/k8s/secret.example.yaml');
  });
});
