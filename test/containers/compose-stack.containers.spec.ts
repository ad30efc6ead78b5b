import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { parse } from 'yaml';
import { call } from '../support/app.js';
import { freePort } from '../support/redis.js';
import { composeCommand, containers, engine, exitCodeOf, isHealthy, logsOf, runCommand } from './support/engine.js';
import { loggedEvents, type Service, waitForStatus } from './support/service-calls.js';
import { VoteModel } from './support/vote-model.js';

/**
 * compose.yaml brought up as an operator would, on the image under test, under a project name of its
 * own: every service but Prometheus (no stand-in image here), then the faults it promises to survive.
 */
const image = inject('image');
const root = path.resolve(import.meta.dirname, '../..');
const project = `cvtest${randomBytes(4).toString('hex')}`;
const secrets = { POSTGRES_PASSWORD: `pg-${project}`, ADMIN_TOKEN: `admin-${project}`, CLIENT_ADDRESS_HASH_KEY: `hash-key-${project}` };
const figures = { kills: 0, mismatches: 0, verified: 0 };
let folder: string;
let environment: NodeJS.ProcessEnv;
let services: string[];
let replicas: Service[];

async function compose(...args: string[]): Promise<string> {
  const outcome = await runCommand([...composeCommand, '--project-name', project, '--file', 'compose.yaml', ...args], { cwd: folder, env: environment });
  if (outcome.code !== 0) throw new Error(`compose ${args.join(' ')} exited ${outcome.code}: ${outcome.stderr.slice(-2000)}`);
  return outcome.stdout;
}

/** The one container of a service, by the labels both podman-compose and docker compose set. */
async function containerOf(service: string): Promise<string> {
  const names = await containers('ps', '--all', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`, '--format', '{{.Names}}');
  if (names.split('\n').filter(Boolean).length !== 1) throw new Error(`expected one container of ${service}, found ${JSON.stringify(names)}`);
  return names;
}

/** `npm run verify`, as the image ships it, inside a running container of the stack. */
async function verifyInside(container: string): Promise<string> {
  const outcome = await runCommand([engine, 'exec', container, 'node', 'dist/src/projections/operations/verify-cli.js']);
  figures.verified += 1;
  if (outcome.code !== 0) figures.mismatches += Number(/(\d+) of \d+ tallies differ/.exec(outcome.stdout)?.[1] ?? 1);
  expect({ code: outcome.code, stdout: outcome.stdout }).toMatchObject({ code: 0, stdout: expect.stringMatching(/all \d+ tallies match the log/) });
  return outcome.stdout.trim();
}

async function upAndReady(): Promise<void> {
  await compose('up', '--detach', '--no-build', ...services);
  for (const replica of replicas) await waitForStatus(replica, '/readyz', 300_000);
  for (const service of ['postgres', 'redis']) await vi.waitFor(async () => expect(await isHealthy(await containerOf(service))).toBe(true), { timeout: 120_000, interval: 1000 });
  await vi.waitFor(async () => expect(await containers('inspect', '--format', '{{.State.Status}}', await containerOf('migrate'))).toBe('exited'), { timeout: 120_000, interval: 1000 });
}

async function removeWhatTheProjectMade(): Promise<void> {
  await runCommand([...composeCommand, '--project-name', project, '--file', 'compose.yaml', 'down', '--volumes', '--timeout', '10'], { cwd: folder, env: environment });
  // podman-compose 1.0 leaves the network behind, and a failed run may leave anything.
  const label = `label=com.docker.compose.project=${project}`;
  for (const kind of ['container', 'network', 'volume'] as const) {
    const names = (await runCommand([engine, kind, 'ls', ...(kind === 'container' ? ['--all'] : []), '--filter', label, '--format', '{{.Name' + (kind === 'container' ? 's' : '') + '}}'])).stdout;
    for (const name of names.split('\n').filter(Boolean)) await runCommand([engine, kind, 'rm', '--force', name]);
  }
}

async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const kind of ['container', 'network', 'volume'] as const) {
    const names = (await runCommand([engine, kind, 'ls', ...(kind === 'container' ? ['--all'] : []), '--format', '{{.Name' + (kind === 'container' ? 's' : '') + '}}'])).stdout;
    found.push(...names.split('\n').filter((name) => name.startsWith(project)).map((name) => `${kind} ${name}`));
  }
  return found;
}

describe.skipIf(image === '')('the compose stack', () => {
  let model: VoteModel;
  let project_: { id: string; publicKey: string; secretKey: string };
  let last: string;

  beforeAll(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'clickvote-compose-'));
    await copyFile(path.join(root, 'compose.yaml'), path.join(folder, 'compose.yaml'));
    await mkdir(path.join(folder, 'deploy'));
    for (const file of ['prometheus.yml', 'prometheus-alerts.yml']) await copyFile(path.join(root, 'deploy', file), path.join(folder, 'deploy', file));
    const file = parse(await readFile(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, unknown> };
    expect(Object.keys(file.services)).toContain('prometheus');
    services = Object.keys(file.services).filter((service) => service !== 'prometheus');
    const tagAt = image.lastIndexOf(':') > image.lastIndexOf('/') ? image.lastIndexOf(':') : image.length;
    const ports = [await freePort(), await freePort()];
    // Only what an operator's .env would say (the folder has none), over this process's environment.
    environment = { ...process.env, ...secrets, CLICKVOTE_IMAGE: image.slice(0, tagAt), CLICKVOTE_VERSION: image.slice(tagAt + 1) || 'latest', API_1_PORT: String(ports[0]), API_2_PORT: String(ports[1]) };
    replicas = ports.map((port) => ({ baseUrl: `http://127.0.0.1:${port}` }));
    await upAndReady();
  });

  afterAll(async () => {
    if (folder === undefined) return;
    await removeWhatTheProjectMade();
    await rm(folder, { recursive: true, force: true });
    console.log(`containers: compose stack: ${model?.votesCast ?? 0} votes cast (${[...(model?.castThrough.values() ?? [])].join(' + ')} through the two API replicas), ${figures.kills} projector killed, ${figures.verified} verify runs, ${figures.mismatches} mismatches`);
  });

  it('starts every service but Prometheus; migrate runs once and succeeds; both API replicas are ready', async () => {
    const migrate = await containerOf('migrate');
    expect(await exitCodeOf(migrate)).toBe(0);
    expect((await logsOf(migrate)).match(/^Applied \d+ migration\(s\)\.$/gm)).toHaveLength(1);
    const prometheus = await containers('ps', '--all', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=prometheus', '--format', '{{.Names}}');
    expect(prometheus).toBe('');
    for (const replica of replicas) expect((await call(replica, 'GET', '/readyz')).body.checks).toEqual({ database: true, migrations: true, redis: true, stopping: false });
  });

  it('takes votes through both replicas, and each serves the tallies they add up to', async () => {
    project_ = (await call(replicas[0]!, 'POST', '/v1/projects', { key: secrets.ADMIN_TOKEN, body: { name: 'compose' } })).body;
    expect((await call(replicas[1]!, 'PUT', '/v1/polls/votes', { key: project_.secretKey, body: { kind: 'updown' } })).status).toBe(201);
    // The secret key: per-client rate limits apply to public keys, and every vote here comes from one client.
    model = new VoteModel(project_.secretKey, 'votes');
    last = await model.castRound(replicas, 200);
    expect(await model.differences(replicas, last)).toEqual([]);
    expect([...model.castThrough.values()].every((n) => n >= 100)).toBe(true);
  });

  it('lets the standby projector take over when the leader is killed (SIGKILL), every tally equal to the log', async () => {
    const projectors = await Promise.all(['projector-1', 'projector-2'].map(containerOf));
    const leading = await Promise.all(projectors.map(async (name) => /projector is the leader/.test(await logsOf(name))));
    expect(leading.filter(Boolean)).toHaveLength(1);
    const [leader, standby] = leading[0] ? projectors : [...projectors].reverse();
    await containers('kill', leader!);
    figures.kills += 1;

    last = await model.castRound(replicas, 200);
    expect(await model.differences(replicas, last)).toEqual([]);
    expect(await logsOf(standby!)).toMatch(/projector is the leader/);
    await verifyInside(standby!);
  });

  it('keeps every tally right across a restart of the Redis container (its volume kept)', async () => {
    await containers('restart', '--time', '10', await containerOf('redis'));
    for (const replica of replicas) await waitForStatus(replica);
    expect(await model.differences(replicas, last)).toEqual([]);
    last = await model.castRound(replicas, 100);
    expect(await model.differences(replicas, last)).toEqual([]);
    await verifyInside(await containerOf('api-1'));
  });

  it('keeps every vote across compose down and up (the volumes kept)', async () => {
    await compose('down', '--timeout', '10');
    await upAndReady();
    expect(await logsOf(await containerOf('migrate'))).toMatch(/Database is up to date\./);
    const logged = new Set((await loggedEvents(replicas[0]!, project_.secretKey, 'votes')).map((event) => event.position));
    expect(model.acknowledged.filter((position) => !logged.has(position))).toEqual([]);
    expect(await model.differences(replicas, last)).toEqual([]);
    last = await model.castRound(replicas, 100);
    expect(await model.differences(replicas, last)).toEqual([]);
    await verifyInside(await containerOf('projector-1'));
  });

  it('leaves no container, network or volume of its own behind', async () => {
    await removeWhatTheProjectMade();
    expect(await leftovers()).toEqual([]);
  });
});
