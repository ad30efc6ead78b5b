import { spawn } from 'node:child_process';

/** podman here (this machine has no Docker engine); the image workflow runs the same tier with docker. */
export const engine = process.env.CONTAINER_ENGINE ?? 'podman';
export const composeCommand = engine === 'docker' ? ['docker', 'compose'] : ['podman-compose'];

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end. A non-zero exit is an outcome, not an error: callers judge it. */
export function runCommand(command: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => resolve({ code: -1, stdout, stderr: String(error) }));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `podman ARGS…` (or docker): its standard output, or an error carrying its standard error. */
export async function containers(...args: string[]): Promise<string> {
  const outcome = await runCommand([engine, ...args]);
  if (outcome.code !== 0) throw new Error(`${engine} ${args.join(' ')} exited ${outcome.code}: ${outcome.stderr.trim()}`);
  return outcome.stdout.trim();
}

/** Why the container engine cannot run here, or undefined when it can. */
export async function engineProblem(): Promise<string | undefined> {
  const outcome = await runCommand([engine, 'info']);
  if (outcome.code === 0) return undefined;
  return `\`${engine} info\` failed (${(outcome.stderr.trim().split('\n')[0] ?? '').slice(0, 200)})`;
}

/** The exit code a stopped container recorded. */
export async function exitCodeOf(container: string): Promise<number> {
  return Number(await containers('inspect', '--format', '{{.State.ExitCode}}', container));
}

/** Whether the container's HEALTHCHECK passes now (podman runs it on demand; docker reports its own). */
export async function isHealthy(container: string): Promise<boolean> {
  if (engine === 'podman') return (await runCommand([engine, 'healthcheck', 'run', container])).code === 0;
  return (await containers('inspect', '--format', '{{.State.Health.Status}}', container)) === 'healthy';
}

/** What the container wrote to stdout and stderr, every run of it. */
export async function logsOf(container: string): Promise<string> {
  const outcome = await runCommand([engine, 'logs', container]);
  return outcome.stdout + outcome.stderr;
}
