import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis.js';

const run = promisify(execFile);

/** A PostgreSQL server of one test's own, to stop and restart without touching the shared one. */
export interface ScratchPostgres {
  /** Connection string for the `postgres` database, user postgres, trust. */
  readonly url: string;
  /** Runs one of the server's own tools (pg_dump, pg_restore, createdb, …) as its owner; answers its stdout. */
  tool(name: string, args: readonly string[]): Promise<string>;
  /** `immediate` is a crash as clients see it; `fast` ends their sessions first. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** The newest PostgreSQL binaries under /usr/lib/postgresql, if any. */
function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin/pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/**
 * initdb and pg_ctl on a free port under a temporary directory; as root they run as the
 * `postgres` user, as PostgreSQL refuses root. Undefined (say why, loudly) without the binaries.
 */
export async function startScratchPostgres(settings: Record<string, string> = {}): Promise<ScratchPostgres | undefined> {
  const bin = postgresBinaries();
  if (bin === undefined) {
    console.warn('\n*** No PostgreSQL binaries under /usr/lib/postgresql: tests that need a PostgreSQL server of their own are SKIPPED ***\n');
    return undefined;
  }
  const asRoot = process.getuid?.() === 0;
  const pg = (tool: string, args: readonly string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'clickvote-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    await chown(folder, Number(stdout.trim()), Number(group.trim()));
  }
  const data = path.join(folder, 'data');
  const port = await freePort();
  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const extra = Object.entries(settings).map(([name, value]) => ` -c ${name}=${value}`).join('');
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${folder} -c fsync=off -c max_connections=100${extra}`;
  const start = async () => {
    await pg('pg_ctl', ['start', '-D', data, '-l', path.join(folder, 'server.log'), '-w', '-t', '60', '-o', options]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    tool: async (name, args) => (await pg(name, args)).stdout,
    stop: async (mode = 'fast') => {
      await pg('pg_ctl', ['stop', '-D', data, '-m', mode, '-w', '-t', '60']);
    },
    start,
    dispose: async () => {
      await pg('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']).catch(() => {});
      await rm(folder, { recursive: true, force: true });
    },
  };
}
