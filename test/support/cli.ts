import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

type CliOptions = { args?: readonly string[]; input?: string };

/** Runs one of the operator commands (`src/**\/*-cli.ts`) as `npm run …` does, with this environment and stdin. */
export function runCli(script: string, env: Record<string, string | undefined>, options: CliOptions = {}): Promise<CliResult> {
  return run(process.execPath, ['--import', 'tsx', script, ...(options.args ?? [])], env, options.input);
}

/** Runs `npm run -s <script>` exactly as the README tells an operator to. */
export function runNpmScript(script: string, env: Record<string, string | undefined>, options: CliOptions = {}): Promise<CliResult> {
  return run('npm', ['run', '-s', script, ...(options.args === undefined ? [] : ['--', ...options.args])], env, options.input);
}

function run(file: string, args: readonly string[], env: Record<string, string | undefined>, input: string | undefined): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
    child.stdin.end(input ?? '');
  });
}
