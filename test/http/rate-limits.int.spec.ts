import { spawn } from 'node:child_process';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import type { AuthenticatedProject } from '../../src/catalog/projects.js';
import { RateLimits } from '../../src/http/rate-limits.js';
import { connectRedis } from '../../src/platform/redis.js';
import { freePort } from '../support/redis.js';
import { createClusterTestRedis } from '../support/redis-cluster.js';

const project = { id: 'p1', access: 'public', rateLimits: {} } as unknown as AuthenticatedProject;
const settings = { votesPerAddress: 3, votesPerVoter: 100, votersPerAddress: 100 };

/** Counts three votes, then a fourth; answers the status each got. */
async function fourVotes(limits: RateLimits): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const headers: Record<string, string> = {};
    const res = { set: (name: string, value: string) => (headers[name] = value) } as unknown as Response;
    outcomes.push(await limits.consume(res, project, [['votesPerAddress', 'addr']]).then(() => 'ok', (error: { code: string }) => error.code));
  }
  return outcomes;
}

describe('rate limits', () => {
  it('count in process when embedded', async () => {
    expect(await fourVotes(new RateLimits({ enabled: true, settings }))).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
  });

  it('count in a Redis Cluster, shared by every replica', async (context) => {
    const redis = await createClusterTestRedis();
    if (redis === undefined) return context.skip();
    try {
      const replica = () => new RateLimits({ enabled: true, settings, redis: redis.client, keyPrefix: redis.prefix });
      expect(await fourVotes(replica())).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
      expect((await fourVotes(replica()))[0]).toBe('rate_limited');
    } finally {
      await redis.dispose();
    }
  });

  it('keep counting in process while Redis is away, instead of failing or holding votes', async (context) => {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const started = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.once('spawn', () => resolve(true));
    });
    if (!started) {
      console.warn('\n*** no redis-server on PATH: the Redis outage test is SKIPPED ***\n');
      context.skip();
    }
    const redis = await (async () => {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await connectRedis(`redis://127.0.0.1:${port}`);
        } catch (error) {
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    try {
      server.kill('SIGKILL');
      await new Promise((resolve) => server.once('exit', resolve));
      await expect.poll(() => redis.isReady).toBe(false);
      expect(await fourVotes(new RateLimits({ enabled: true, settings, redis, keyPrefix: 'outage' }))).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    } finally {
      redis.destroy();
    }
  });
});
