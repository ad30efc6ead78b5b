import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { createTestRedis, hasRedisServer, type TestRedis } from './redis.js';

export interface ClusterNode {
  readonly port: number;
  /** `127.0.0.1:<port>`, as REDIS_CLUSTER_NODES lists it. */
  readonly address: string;
}

export interface LocalRedisCluster {
  /** The masters the cluster was created with, then their replicas. */
  readonly nodes: readonly ClusterNode[];
  /** `host:port,…` of every node: what REDIS_CLUSTER_NODES takes. */
  readonly nodeList: string;
  /** SIGKILLs one node; a replica of a killed master takes over after the node timeout. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again, empty: it rejoins as a replica of whichever node took its slots. */
  restart(port: number): Promise<void>;
  /** Waits until every live node reports `cluster_state:ok` and agrees on the masters. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** The ports of the nodes that currently serve as masters. */
  masters(): Promise<number[]>;
  stop(): Promise<void>;
}

export const canStartRedisCluster = () => hasRedisServer() && spawnSync('redis-cli', ['--version']).status === 0;

/**
 * A Redis Cluster of the test's own: `masters` redis-servers with `--cluster-enabled yes` on free
 * ports (each with its bus port at +10000), `replicasPerMaster` replicas each, joined with
 * `redis-cli --cluster create`. A short node timeout makes failover take about a second.
 */
export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-redis-cluster-'));
  const children = new Map<number, ChildProcess>();
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all([...children.keys()].map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  const kill = async (port: number) => {
    const child = children.get(port);
    if (child === undefined) return;
    children.delete(port);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  process.once('exit', () => {
    for (const child of children.values()) child.kill('SIGKILL');
  });
  try {
    for (let index = 0; index < masters * (1 + replicas); index += 1) {
      const port = await freeClusterPort(nodes.map((node) => node.port));
      children.set(port, spawnClusterNode(port, dir));
      nodes.push({ port, address: `127.0.0.1:${port}` });
    }
    await Promise.all(nodes.map((node) => waitForPing(node.port)));
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((node) => node.address), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    const cluster: LocalRedisCluster = {
      nodes,
      nodeList: nodes.map((node) => node.address).join(','),
      kill,
      restart: async (port) => {
        if (children.has(port)) throw new Error(`node ${port} is running`);
        children.set(port, spawnClusterNode(port, dir));
        await waitForPing(port);
      },
      waitUntilHealthy: (timeoutMs = 30_000) => waitUntilHealthy([...children.keys()], masters, timeoutMs),
      masters: () => mastersOf([...children.keys()]),
      stop,
    };
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

function spawnClusterNode(port: number, dir: string): ChildProcess {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0', '--logfile', `node-${port}.log`);
  return spawn('redis-server', args, { stdio: 'ignore' });
}

async function waitForPing(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`redis-server did not start on port ${port}`);
}

async function clusterCommand(port: number, ...args: string[]): Promise<string | undefined> {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    return String(await client.sendCommand(['CLUSTER', ...args]));
  } catch {
    return undefined;
  } finally {
    if (client.isOpen) await client.quit().catch(() => {});
  }
}

async function mastersOf(ports: readonly number[]): Promise<number[]> {
  for (const port of ports) {
    const listing = await clusterCommand(port, 'NODES');
    if (listing === undefined) continue;
    return listing
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => {
        const flags = fields[2]?.split(',') ?? [];
        // A master that serves slots and that no node believes has failed.
        return flags.includes('master') && !flags.some((flag) => flag.startsWith('fail')) && fields.length > 8;
      })
      .map((fields) => Number(fields[1]!.split('@')[0]!.split(':').at(-1)));
  }
  return [];
}

async function waitUntilHealthy(ports: readonly number[], masters: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(ports.map((port) => clusterCommand(port, 'INFO')));
    const healthy = infos.every((info) => info?.includes('cluster_state:ok') === true);
    const serving = await mastersOf(ports);
    // After a kill, healthy means a live node serves each master's slots again.
    if (healthy && serving.length === masters && serving.every((port) => ports.includes(port))) return;
    if (Date.now() > deadline) throw new Error(`the Redis Cluster on ports ${ports.join(', ')} did not become healthy within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A port whose cluster bus port (+10000) is free too; below 55536 so the bus port exists. */
async function freeClusterPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.includes(port)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}


/**
 * A TestRedis on a 3-master cluster of the test file's own, stopped with it; undefined (the
 * cluster variant skips) when redis-server or redis-cli is missing.
 */
export async function createClusterTestRedis(): Promise<TestRedis | undefined> {
  if (!canStartRedisCluster()) {
    console.warn('\n*** No redis-server or redis-cli on PATH: the Redis Cluster variants are SKIPPED ***\n');
    return undefined;
  }
  const cluster = await startRedisCluster({ masters: 3 });
  const redis = (await createTestRedis({ clusterNodes: cluster.nodes.map((node) => node.address) }))!;
  return { ...redis, dispose: () => redis.dispose().finally(() => cluster.stop()) };
}

/** The Redis suites run on one Redis and on a Redis Cluster; each variant makes its Redis when its tests begin. */
export const redisVariants: readonly { readonly name: string; readonly create: () => Promise<TestRedis | undefined> }[] = [
  { name: 'one Redis', create: () => createTestRedis() },
  { name: 'a Redis Cluster', create: createClusterTestRedis },
];
