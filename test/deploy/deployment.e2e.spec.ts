import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { EnvironmentSchema, loadConfig } from '../../src/platform/config.js';
import { call, startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { createTestRedis, type TestRedis } from '../support/redis.js';

/**
 * No Docker engine runs here, so these stand in for `docker build` and `docker compose up`: the
 * manifests are checked against the code, and the built package is run as the image runs it.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const runtimeVariables = new Set(['NODE_OPTIONS', 'NODE_ENV']);
let database: TestDatabase;
let redis: TestRedis | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await createTestRedis();
}, 180_000);

afterAll(async () => {
  await redis?.dispose();
  await database.dispose();
});

type Manifest = Record<string, any>;
const compose = async (): Promise<Manifest> => parse(await readFile(path.join(root, 'compose.yaml'), 'utf8'), { merge: true });
const kubernetes = async (): Promise<Manifest[]> => {
  const folder = path.join(root, 'deploy/k8s');
  const documents = await Promise.all(
    readdirSync(folder).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml').map(async (file) => parseAllDocuments(await readFile(path.join(folder, file), 'utf8')).map((doc) => doc.toJS())),
  );
  return documents.flat();
};
/** Containers of Deployments and Jobs alike. */
const containersOf = (manifest: Manifest): Manifest[] => manifest.spec?.template?.spec?.containers ?? [];
/** The compose services that run our image (postgres, redis and prometheus are not ours to check). */
const ourServices = async (): Promise<Manifest[]> => (Object.values((await compose()).services) as Manifest[]).filter((service) => service.build !== undefined);

describe('the deployment manifests', () => {
  it('set only variables the configuration accepts, with values it accepts', async () => {
    const known = new Set(Object.keys(EnvironmentSchema.fields));
    const services = await ourServices();
    expect(services.length).toBe(5);
    const composeEnvironments = services.map((service) => (service.environment ?? {}) as Record<string, string>);
    const k8s = await kubernetes();
    const configMap = k8s.find((m) => m.kind === 'ConfigMap')!.data as Record<string, string>;
    // The example Secret as an operator fills it in: its placeholders are refused, by design.
    const exampleSecret = k8s.find((m) => m.kind === 'Secret')!.stringData as Record<string, string>;
    const secret = Object.fromEntries(Object.entries(exampleSecret).map(([name, value]) => [name, value.replace(/change-me[\w-]*/g, 'filled-in-0123456789abcdef')]));
    const valueOf = (e: Manifest) => e.value ?? secret[e.valueFrom.secretKeyRef.key];
    const containerEnvironments = k8s.flatMap(containersOf).map((c) => Object.fromEntries((c.env ?? []).map((e: Manifest) => [e.name, valueOf(e)])));
    for (const environment of [...composeEnvironments, configMap, secret, ...containerEnvironments]) {
      for (const name of Object.keys(environment)) expect(known.has(name) || runtimeVariables.has(name), `${name} is not a setting`).toBe(true);
    }
    for (const environment of containerEnvironments) {
      const literal = Object.fromEntries(Object.entries({ ...configMap, ...secret, ...environment }).filter(([name]) => !runtimeVariables.has(name)));
      expect(() => loadConfig(literal)).not.toThrow();
    }
    const interpolated = (value: string) => value.replace(/\$\{[^}]+\}/g, 'placeholder-0123456789abcdef');
    for (const environment of composeEnvironments) {
      expect(() => loadConfig(Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, interpolated(String(value))])))).not.toThrow();
    }
  });

  it('probe only routes the service answers', async () => {
    const k8s = await kubernetes();
    const paths = new Set<string>(['/healthz']); // the Dockerfile HEALTHCHECK
    for (const container of k8s.flatMap(containersOf)) {
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) if (container[probe] !== undefined) paths.add(container[probe].httpGet.path);
    }
    for (const manifest of k8s) if (manifest.spec?.template?.metadata?.annotations?.['prometheus.io/path']) paths.add(manifest.spec.template.metadata.annotations['prometheus.io/path']);
    const prometheus = parse(await readFile(path.join(root, 'deploy/prometheus.yml'), 'utf8')) as Manifest;
    for (const job of prometheus.scrape_configs) paths.add(job.metrics_path);
    const app: TestApp = await startTestApp();
    try {
      for (const probe of paths) expect({ probe, status: (await call(app, 'GET', probe)).status }).toEqual({ probe, status: 200 });
    } finally {
      await app.close();
    }
  });

  it('run only commands that exist in the build', async () => {
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const commands: string[][] = [JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!)];
    for (const service of await ourServices()) if (service.command !== undefined) commands.push(service.command);
    for (const container of (await kubernetes()).flatMap(containersOf)) if (container.command !== undefined) commands.push(container.command);
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) {
      expect(command[0]).toBe('node');
      expect(existsSync(path.join(root, command.at(-1)!)), `${command.join(' ')}`).toBe(true);
    }
  });
});

describe('the built service', () => {
  it('stops at once on a bad variable, with one line naming it', async () => {
    const result = await run(process.execPath, ['dist/src/main.js'], { cwd: root, env: { ...process.env, PORT: 'eighty' } }).catch((error: { code: number; stderr: string }) => error);
    expect(result).toMatchObject({ code: 1 });
    expect((result as { stderr: string }).stderr.trim().split('\n')).toEqual(['Invalid environment variable PORT (got "eighty"): Unable to decode "eighty" into a number']);
  });

  it('starts from a production-only install, as the runtime stage does, and is ready', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const folder = await mkdtemp(path.join(os.tmpdir(), 'clickvote-runtime-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) await cp(path.join(root, file), path.join(folder, file));
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: folder });
      expect(existsSync(path.join(folder, 'node_modules/vitest'))).toBe(false);
      await cp(path.join(root, 'dist'), path.join(folder, 'dist'), { recursive: true });
      const service = await startBuilt(folder, { ROLE: 'all', MIGRATE_ON_START: 'true' });
      try {
        const ready = await fetch(`${service.url}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({ checks: { database: true, migrations: true, redis: true, stopping: false } });
      } finally {
        expect(await service.stop()).toBe(0);
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }, 240_000);

  // The process's own watchdog exits 1 after 10 s, so exit code 0 also says it stopped in time.
  it('on SIGTERM keeps every vote it answered with 2xx, writes none by halves, and exits 0 within 10 s', async (context) => {
    if (database.url === undefined || redis === undefined) context.skip();
    const service = await startBuilt(root, { ROLE: 'all', MIGRATE_ON_START: 'true', ADMIN_TOKEN: 'shutdown-admin-token-0123', RATE_LIMITS: 'off' });
    const project: any = await (await fetch(`${service.url}/v1/projects`, { method: 'POST', headers: { authorization: 'Bearer shutdown-admin-token-0123', 'content-type': 'application/json' }, body: '{"name":"shutdown"}' })).json();
    await fetch(`${service.url}/v1/polls/votes`, { method: 'PUT', headers: { authorization: `Bearer ${project.secretKey}`, 'content-type': 'application/json' }, body: '{"kind":"updown"}' });

    const answered: string[] = [];
    let sending = true;
    const senders = Array.from({ length: 16 }, async (_, sender) => {
      for (let i = 0; sending; i += 1) {
        try {
          const response = await fetch(`${service.url}/v1/polls/votes/votes`, {
            method: 'POST',
            headers: { authorization: `Bearer ${project.publicKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ target: `t${i % 5}`, voter: `s${sender}-${i}`, value: 1 }),
          });
          if (response.ok) answered.push(((await response.json()) as { position: string }).position);
        } catch {
          return; // the server has stopped accepting
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const code = await service.stop();
    sending = false;
    await Promise.all(senders);

    expect(code).toBe(0);
    expect(answered.length).toBeGreaterThan(10);
    const events = await database.db.selectFrom('vote_events').select(['transaction_id', 'global_position', 'target', 'voter', 'stream_version', 'value']).where('project_id', '=', project.id).execute();
    const logged = new Set(events.map((event) => `${event.transaction_id}.${event.global_position}`));
    expect(answered.filter((position) => !logged.has(position))).toEqual([]);
    const ballots = await database.db.selectFrom('ballots').select(['target', 'voter', 'value', 'version']).where('project_id', '=', project.id).execute();
    expect(ballots.length).toBe(events.length);
    for (const ballot of ballots) expect(events.some((e) => e.target === ballot.target && e.voter === ballot.voter && e.stream_version === ballot.version && e.value === ballot.value)).toBe(true);
  }, 60_000);
});

/** `node dist/src/main.js` from `folder`, on this file's database and Redis prefix. */
async function startBuilt(folder: string, env: Record<string, string>): Promise<{ url: string; stop(): Promise<number | null> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child: ChildProcess = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: folder,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, REDIS_URL: redis!.url, REDIS_KEY_PREFIX: `${redis!.prefix}_built`, LOG_LEVEL: 'warn', CREATE_DEMO_PROJECT: 'false', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 200) throw new Error('the service did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
