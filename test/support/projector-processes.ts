import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

export interface ProjectorProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  readonly output: string[];
}

/**
 * Real projector processes, as `ROLE=projector` runs in production, started from the sources.
 * `stopAll` kills every one still running: a test's projectors take its database's locks, and
 * none may outlive the test.
 */
export function projectorProcesses(baseSettings: () => Record<string, string>) {
  const running: ProjectorProcess[] = [];
  return {
    start(settings: Record<string, string> = {}): ProjectorProcess {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: {
          ...process.env,
          ROLE: 'projector',
          PORT: '0',
          HOST: '127.0.0.1',
          PROJECTOR_POLL_INTERVAL_MS: '100',
          PROJECTOR_BATCH_SIZE: '50',
          LOG_LEVEL: 'info',
          ...baseSettings(),
          ...settings,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const started = { child, output };
      running.push(started);
      return started;
    },
    async stopAll(): Promise<void> {
      for (const { child } of running.splice(0)) {
        child.kill('SIGKILL');
        await exitOf(child);
      }
    },
  };
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
}
