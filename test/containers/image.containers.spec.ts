import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call } from '../support/app.js';
import { createEmptyPostgresDatabase, postgresServerUrl } from '../support/database.js';
import { createTestRedis, freePort } from '../support/redis.js';
import { containers, engine, exitCodeOf, runCommand } from './support/engine.js';
import { commandLike, environmentOf, kubernetesManifests, type Manifest, runOptionsLike } from './support/manifests.js';
import { castVote, loggedEvents, type Service, tallyAfter, waitForStatus } from './support/service-calls.js';

const image = inject('image');
const root = path.resolve(import.meta.dirname, '../..');
const run = `clickvote-test-${randomBytes(4).toString('hex')}`;
const made = { containers: [] as string[], volumes: [] as string[] };

/** Starts a container of the image in the background; it is removed after the file. */
async function start(name: string, options: string[], command: string[] = []): Promise<string> {
  made.containers.push(`${run}-${name}`);
  await containers('run', '--detach', '--name', `${run}-${name}`, ...options, image, ...command);
  return `${run}-${name}`;
}

async function publishedService(container: string): Promise<Service> {
  const address = (await containers('port', container, '3000')).split('\n')[0]!;
  return { baseUrl: `http://${address.replace('0.0.0.0', '127.0.0.1')}` };
}

afterAll(async () => {
  for (const container of made.containers) await runCommand([engine, 'rm', '--force', container]);
  for (const volume of made.volumes) await runCommand([engine, 'volume', 'rm', '--force', volume]);
});

describe.skipIf(image === '')('the image', () => {
  it('runs as a non-root user', async () => {
    expect(await containers('image', 'inspect', '--format', '{{.Config.User}}', image)).toBe('node');
    expect(await containers('run', '--rm', image, 'id', '-u')).not.toBe('0');
  });

  it('holds the build and production dependencies only: no dev dependencies, no .env, no tests', async () => {
    const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([where, entry]) => where !== '' && entry.dev === true).map(([where]) => where);
    const script = `const fs = require('fs'); console.log(JSON.stringify({ app: fs.readdirSync('/app').sort(), dev: JSON.parse(process.env.DEV).filter((p) => fs.existsSync('/app/' + p)) }))`;
    const found = JSON.parse(await containers('run', '--rm', '--env', `DEV=${JSON.stringify(devOnly)}`, image, 'node', '-e', script));
    expect(found).toEqual({ app: ['dist', 'node_modules', 'package.json'], dev: [] });
    expect(devOnly.length).toBeGreaterThan(50);
    const ours = ['(', '-name', '.env', '-o', '-name', '.env.*', '-o', '-path', '/app/test', '-o', '-name', '*.spec.*', ')']; // dependencies may ship their own
    const strays = await containers('run', '--rm', '--user', '0', image, 'find', '/', '-xdev', '-path', '/app/node_modules', '-prune', '-o', ...ours, '-print');
    expect(strays).toBe('');

    const size = Number(await containers('image', 'inspect', '--format', '{{.Size}}', image));
    const base = /^FROM (\S+) AS runtime$/m.exec(await readFile(path.join(root, 'Dockerfile'), 'utf8'))![1]!;
    const baseSize = Number(await containers('image', 'inspect', '--format', '{{.Size}}', base).catch(() => 'NaN'));
    console.log(`containers: image size ${(size / 1e6).toFixed(0)} MB (${((size - baseSize) / 1e6).toFixed(0)} MB over ${base})`);
  });

  describe('with no configuration', () => {
    const volume = `${run}-data`;
    let container: string;
    let service: Service;
    let demo: { publicKey: string; secretKey: string };

    beforeAll(async () => {
      made.volumes.push(volume);
      container = await start('embedded', ['--publish', '127.0.0.1::3000', '--volume', `${volume}:/data`]);
      service = await publishedService(container);
      await waitForStatus(service);
      demo = JSON.parse(await containers('exec', container, 'cat', '/data/demo-project.json'));
    });

    it('passes its HEALTHCHECK, whose command fails where nothing listens', async () => {
      const healthcheck = JSON.parse(await containers('image', 'inspect', '--format', '{{json .Config.Healthcheck}}', image)) as { Test: string[] };
      expect(healthcheck.Test[0]).toBe('CMD');
      const command = healthcheck.Test.slice(1);
      expect((await runCommand([engine, 'exec', container, ...command])).code).toBe(0);
      expect((await runCommand([engine, 'run', '--rm', image, ...command])).code).not.toBe(0);
    });

    it('serves the embedded default: a vote, then its tally', async () => {
      const vote = await castVote(service, demo.publicKey, 'likes', { target: 'post-1', voter: 'alice', value: 1 });
      expect(vote).toBeDefined();
      expect(await tallyAfter(service, demo.publicKey, 'likes', 'post-1', vote!.position)).toMatchObject({ target: 'post-1', count: 1 });
    });

    // The process's own watchdog exits 1 after 10 s and `stop --time 10` kills (137) after 10 s: 0 means in time.
    it('on stop (SIGTERM) exits 0 within 10 s with every acknowledged vote in the log', async () => {
      const acknowledged: string[] = [];
      let sending = true;
      const senders = Array.from({ length: 8 }, async (_, sender) => {
        for (let i = 0; sending; i += 1) {
          // The secret key: per-client rate limits apply to public keys, and these votes come from one client.
          const vote = await castVote(service, demo.secretKey, 'likes', { target: `t${i % 3}`, voter: `s${sender}-${i}`, value: 1 });
          if (vote !== undefined) acknowledged.push(vote.voter);
          else if (!sending) return;
        }
      });
      while (acknowledged.length < 40) await new Promise((resolve) => setTimeout(resolve, 50));
      await containers('stop', '--time', '10', container);
      sending = false;
      await Promise.all(senders);
      expect(await exitCodeOf(container)).toBe(0);

      const again = await start('embedded-again', ['--publish', '127.0.0.1::3000', '--volume', `${volume}:/data`]);
      const restarted = await publishedService(again);
      await waitForStatus(restarted);
      const logged = new Set((await loggedEvents(restarted, demo.secretKey, 'likes')).map((event) => event.voter));
      expect(acknowledged.filter((voter) => !logged.has(voter))).toEqual([]);
      console.log(`containers: ${acknowledged.length} votes acknowledged before SIGTERM, all in the log after a restart`);
    });
  });

  describe('as the Kubernetes manifests run it (read-only root, uid 1000, no capabilities)', () => {
    it('migrates with the Job, then the API and the projector serve and project a vote, and stop with 0', async (context) => {
      const serverUrl = await postgresServerUrl();
      const redis = await createTestRedis();
      if (serverUrl === undefined || redis === undefined) {
        console.warn('\n*** No PostgreSQL or Redis server for the container to use: the Kubernetes run is SKIPPED ***\n');
        context.skip();
      }
      const database = await createEmptyPostgresDatabase(serverUrl!);
      try {
        const k8s = await kubernetesManifests();
        const configMap = k8s.find((m) => m.kind === 'ConfigMap')!.data as Record<string, string>;
        const secrets = { DATABASE_URL: database.url, REDIS_URL: redis!.url, ADMIN_TOKEN: `admin-${run}`, CLIENT_ADDRESS_HASH_KEY: `hash-key-${run}` };
        const workloads = k8s.filter((m) => m.kind === 'Job' || m.kind === 'Deployment');
        expect(workloads.map((m) => m.kind).sort()).toEqual(['Deployment', 'Deployment', 'Job']);
        const environment = (container: Manifest, port: number) =>
          Object.entries({ ...environmentOf(container, configMap, secrets), REDIS_KEY_PREFIX: redis!.prefix, LOG_LEVEL: 'warn', PORT: String(port) }).flatMap(([name, value]) => ['--env', `${name}=${value}`]);
        const optionsOf = (workload: Manifest, container: Manifest, port: number) => ['--network', 'host', ...runOptionsLike(workload.spec.template.spec, container), ...environment(container, port)];

        const job = workloads.find((m) => m.kind === 'Job')!;
        const migrate = job.spec.template.spec.containers[0];
        const migration = commandLike(migrate);
        await containers('run', '--rm', ...optionsOf(job, migrate, await freePort()), ...migration.options, image, ...migration.args); // throws unless it exits 0

        const started: Record<string, { container: string; service: Service }> = {};
        for (const deployment of workloads.filter((m) => m.kind === 'Deployment')) {
          const spec = deployment.spec.template.spec.containers[0];
          const port = await freePort();
          const { options, args } = commandLike(spec);
          const container = await start(`k8s-${spec.name}`, [...optionsOf(deployment, spec, port), ...options], args);
          started[spec.name] = { container, service: { baseUrl: `http://127.0.0.1:${port}` } };
          await waitForStatus(started[spec.name]!.service);
        }
        const api = started.api!.service;
        const project = (await call(api, 'POST', '/v1/projects', { key: secrets.ADMIN_TOKEN, body: { name: 'read-only' } })).body;
        expect((await call(api, 'PUT', '/v1/polls/likes', { key: project.secretKey, body: { kind: 'like' } })).status).toBe(201);
        const vote = await castVote(api, project.publicKey, 'likes', { target: 'post-1', voter: 'alice', value: 1 });
        expect(await tallyAfter(api, project.publicKey, 'likes', 'post-1', vote!.position)).toMatchObject({ count: 1 });
        for (const { container } of Object.values(started)) {
          await containers('stop', '--time', '10', container);
          expect(await exitCodeOf(container)).toBe(0);
        }
      } finally {
        await database.dispose();
        await redis?.dispose();
      }
    });
  });
});
