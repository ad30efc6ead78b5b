import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './redis.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The heap cap the image runs every process with (NODE_OPTIONS in the Dockerfile). */
export const imageNodeOptions = ['--max-old-space-size=160'];

export interface BuiltService {
  readonly url: string;
  readonly pid: number;
  /** What the process wrote to stderr so far. */
  readonly stderr: () => string;
  /** What the process wrote to stdout and stderr so far, with `stdout: 'capture'`. */
  readonly output: () => string;
  /** Peak resident set size so far (the kernel's high-water mark, sampled while it runs), in MB. */
  readonly peakRssMb: () => number;
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  readonly exited: Promise<number | null>;
  readonly running: () => boolean;
  /** Sends the signal (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface BuiltServiceOptions {
  /**
   * `unread`: stdout is a pipe this side never reads, as behind a stuck log shipper.
   * `ignore` (default): stdout goes nowhere. `capture`: read into `output()`.
   */
  readonly stdout?: 'ignore' | 'unread' | 'capture';
  /** Node flags, e.g. `imageNodeOptions` to run with the image's heap cap. */
  readonly nodeArgs?: readonly string[];
  /** The checkout whose build runs (another one's, for before-and-after figures). */
  readonly root?: string;
  /** Starts are slow while other suites load the machine. */
  readonly startTimeoutMs?: number;
}

/** `node dist/src/main.js` (run `npm run build` first: vitest's global setup does) with this environment. */
export function spawnBuiltService(env: Record<string, string | undefined>, options: BuiltServiceOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'dist/src/main.js'], {
    cwd: options.root ?? root,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMITS: 'off', ...env },
    stdio: ['ignore', options.stdout === undefined || options.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
  });
  if (options.stdout === 'unread') child.stdout?.pause();
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

/** A built service on a free port, once its /healthz answers. */
export async function startBuiltService(env: Record<string, string | undefined>, options: BuiltServiceOptions = {}): Promise<BuiltService> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const child = spawnBuiltService({ ...env, PORT: String(port) }, options);
  let stderr = '';
  let output = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => ((stderr += chunk), (output += chunk)));
  if (options.stdout === 'capture') child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // Sampled as well as read on demand: a process that died has no /proc entry left to read.
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssOf(child.pid))), 200);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (clearInterval(sampler), resolve(code))));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the service exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    pid: child.pid!,
    stderr: () => stderr,
    output: () => output,
    peakRssMb: () => (peak = Math.max(peak, peakRssOf(child.pid))),
    exited,
    running,
    stop: async (signal = 'SIGTERM') => {
      if (running()) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a built service that is expected to stop by itself; kills it after `deadlineMs`. */
export async function runBuiltServiceToExit(env: Record<string, string | undefined>, deadlineMs = 60_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawnBuiltService(env);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(killer);
  return { code, stderr };
}

function peakRssOf(pid: number | undefined): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Math.round(Number(match[1]) / 1024);
  } catch {
    return 0;
  }
}
