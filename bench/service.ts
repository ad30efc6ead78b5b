import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

export interface RunningService {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  readonly adminToken: string;
  /** Peak resident set size of the service process seen so far, in MB (sampled from /proc). */
  peakRssMb(): number;
  stop(): Promise<void>;
}

const root = path.resolve(import.meta.dirname, '..');

/** Node flags the container images set for API and projector processes (NODE_OPTIONS). */
export const serviceNodeOptions = '--max-old-space-size=160';

/**
 * Starts the real service as its own process, from the build output as the image runs it
 * (`npm run build` first), and waits until it is ready.
 */
export async function startService(env: Record<string, string>): Promise<RunningService> {
  const port = await freePort();
  const adminToken = 'bench-admin-token-0123456789';
  // The heap cap the deployment runs with (V8 otherwise grows the heap lazily to hundreds of MB);
  // BENCH_SERVICE_NODE_ARGS replaces it, e.g. "--cpu-prof".
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? serviceNodeOptions).split(' ').filter(Boolean);
  if (!existsSync(path.join(root, 'dist/src/main.js'))) throw new Error('run `npm run build` before the service benchmarks');
  const child = spawn(process.execPath, [...nodeArgs, 'dist/src/main.js'], {
    cwd: root,
    // A benchmark is one client casting as fast as it can: exactly what rate limits stop.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: adminToken, LOG_LEVEL: 'warn', CREATE_DEMO_PROJECT: 'false', RATE_LIMITS: 'off', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, processRssMb(child.pid))), 100);
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 300 || child.exitCode !== null) throw new Error('the service did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    baseUrl,
    child,
    adminToken,
    peakRssMb: () => Math.max(peak, processRssMb(child.pid)),
    stop: async () => {
      clearInterval(sampler);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function processRssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A project with an up/down (or `kind`) poll named "votes", made through the service's API. */
export async function createProjectWithPoll(service: RunningService, kind = 'updown'): Promise<{ id: string; publicKey: string; secretKey: string }> {
  const project = (await (await fetch(`${service.baseUrl}/v1/projects`, { method: 'POST', headers: { authorization: `Bearer ${service.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })).json()) as { id: string; publicKey: string; secretKey: string };
  await fetch(`${service.baseUrl}/v1/polls/votes`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${project.secretKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind }),
  });
  return project;
}

