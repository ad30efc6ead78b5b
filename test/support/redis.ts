import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectRedis, type RedisClient, type RedisTarget, unlinkMatching } from '../../src/platform/redis.js';
import { RedisKeys } from '../../src/projections/tallies/redis-keys.js';

export interface TestRedis {
  /** REDIS_URL of a single server; of a cluster, its first node (start a service with `env`). */
  readonly url: string;
  readonly target: RedisTarget;
  /** REDIS_URL or REDIS_CLUSTER_NODES, for a service started on this Redis. */
  readonly env: Record<string, string>;
  readonly client: RedisClient;
  /** This test file's own key prefix; nothing else is touched. */
  readonly prefix: string;
  dispose(): Promise<void>;
}

let serverUrl: Promise<string | undefined> | undefined;

/**
 * A Redis for one test file: TEST_REDIS_URL, else a testcontainers Redis when a Docker engine
 * answers, else a redis-server from PATH on a free port; undefined (tests skip) when none.
 */
export async function createTestRedis(server?: string | RedisTarget): Promise<TestRedis | undefined> {
  const url = server ?? (await redisServerUrl());
  if (url === undefined) return undefined;
  const target = typeof url === 'string' ? { url } : url;
  const client = await connectRedis(target);
  const prefix = `cvtest_${randomBytes(5).toString('hex')}`;
  return {
    url: 'url' in target ? target.url : `redis://${target.clusterNodes[0]}`,
    target,
    env: 'url' in target ? { REDIS_URL: target.url } : { REDIS_CLUSTER_NODES: target.clusterNodes.join(',') },
    client,
    prefix,
    dispose: async () => {
      // This file's prefix and the ones it derived from it (prefix_1, prefix_2, …).
      for (const pattern of RedisKeys.everyKeyPatterns(prefix)) await unlinkMatching(client, pattern);
      await client.quit();
    },
  };
}

export function redisServerUrl(): Promise<string | undefined> {
  serverUrl ??= (async () => {
    if (process.env.TEST_REDIS_URL !== undefined) return process.env.TEST_REDIS_URL;
    try {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7-alpine').start();
      return container.getConnectionUrl();
    } catch {
      return startLocalRedisServer();
    }
  })();
  return serverUrl;
}

async function startLocalRedisServer(): Promise<string | undefined> {
  if (!hasRedisServer()) {
    console.warn('\n*** No TEST_REDIS_URL, no Docker engine and no redis-server on PATH: Redis suites are SKIPPED ***\n');
    return undefined;
  }
  return (await startPrivateRedisServer())?.url;
}

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

export interface PrivateRedisServer {
  readonly url: string;
  /** Kills the server and removes its files. */
  stop(): Promise<void>;
}

/**
 * A redis-server of the caller's own on a free port, for tests that flush, restart or watch every
 * command of a server; undefined (with a loud line) when redis-server is not on PATH.
 */
export async function startPrivateRedisServer(): Promise<PrivateRedisServer | undefined> {
  if (!hasRedisServer()) {
    console.warn('\n*** No redis-server on PATH: the suites that need their own Redis are SKIPPED ***\n');
    return undefined;
  }
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cv-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'], { stdio: 'ignore' });
    for (let attempt = 0; attempt < 100; attempt += 1) {
      try {
        const probe = await connectRedis(url);
        await probe.quit();
        return child;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const child = await start();
  process.once('exit', () => child.kill('SIGKILL'));
  const killNow = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    stop: async () => {
      await killNow();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
