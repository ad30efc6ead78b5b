import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './redis.js';

export interface PostgresCluster {
  /** Superuser `postgres` on this cluster, database `postgres`. */
  readonly url: string;
  readonly port: number;
  /** The directory of initdb, pg_ctl, pg_dump and pg_restore of this cluster's version. */
  readonly binaries: string;
  /** Runs one of the cluster's binaries as the cluster's owner; throws with its output on failure. */
  run(binary: string, args: readonly string[], options?: { input?: string }): string;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own (initdb and pg_ctl on a free port), for tests that must
 * not disturb the shared one: restores into a fresh cluster, transactions that hold back every
 * database. Undefined, with a loud line, where the binaries are missing.
 */
export async function startPostgresCluster(settings: Record<string, string> = {}): Promise<PostgresCluster | undefined> {
  const binaries = findBinaries();
  if (binaries === undefined) {
    console.warn('\n*** No initdb/pg_ctl (PATH or /usr/lib/postgresql/*/bin): tests needing a PostgreSQL cluster of their own are SKIPPED ***\n');
    return undefined;
  }
  // initdb refuses to run as root: as root, the cluster belongs to the postgres user.
  const owner = process.getuid?.() === 0 ? 'postgres' : undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'cv-pg-'));
  if (owner !== undefined) chownSync(dir, Number(execFileSync('id', ['-u', owner]).toString()), Number(execFileSync('id', ['-g', owner]).toString()));
  const run = (binary: string, args: readonly string[], options: { input?: string } = {}) => {
    const command = path.join(binaries, binary);
    const [file, argv] = owner === undefined ? [command, [...args]] : ['runuser', ['-u', owner, '--', command, ...args]];
    const result = spawnSync(file, argv, { input: options.input, encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  const port = await freePort();
  const options = { port: String(port), listen_addresses: '127.0.0.1', unix_socket_directories: dir, fsync: 'off', ...settings };
  const flags = Object.entries(options).map(([name, value]) => `-c ${name}=${value}`).join(' ');
  run('pg_ctl', ['-D', data, '-o', flags, '-l', path.join(dir, 'server.log'), '-w', 'start']);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => void stop().catch(() => {}));
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, binaries, run, stop };
}

function findBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const candidates = [...versions.map((version) => path.join(root, version, 'bin')), ...(process.env.PATH ?? '').split(path.delimiter)];
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'pg_dump', 'pg_restore'].every((binary) => existsSync(path.join(dir, binary))));
}
