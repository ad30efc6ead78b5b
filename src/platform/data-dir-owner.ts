import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/** Another live process owns the directory; the message is the one line to print. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
}

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

const staleMs = 10_000;

/**
 * Makes this process the only one using DATA_DIR. PGlite does not lock its files: two processes
 * on one directory both acknowledge votes and one's vanish. proper-lockfile's lock is an atomic
 * mkdir whose mtime the owner refreshes, so it dies with its process (stale within 10 s) even
 * where a pid proves nothing, as in a container restarted with the same pid; owner.json beside it
 * names the owner. Resolves with the release.
 */
export async function claimDataDir(dataDir: string, onLost: (error: Error) => void): Promise<() => Promise<void>> {
  const directory = path.resolve(dataDir);
  await mkdir(directory, { recursive: true });
  const ownerFile = path.join(directory, 'owner.json');
  const options = { lockfilePath: path.join(directory, 'owner.lock'), stale: staleMs, onCompromised: onLost };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(directory, options);
  } catch (error) {
    if (!isLocked(error)) throw error;
    const owner = await readOwner(ownerFile);
    if (owner !== undefined && owner.host === os.hostname() && isAlive(owner.pid)) throw new DataDirInUseError(inUse(directory, owner));
    // The owner is gone, or elsewhere and unknowable: a dead owner's lock goes stale once its heartbeat stops.
    const retries = { retries: staleMs / 500 + 4, factor: 1, minTimeout: 500, maxTimeout: 500 };
    release = await lockfile.lock(directory, { ...options, retries }).catch(async (retryError: unknown) => {
      throw isLocked(retryError) ? new DataDirInUseError(inUse(directory, await readOwner(ownerFile))) : retryError;
    });
  }
  const owner: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  await writeFile(ownerFile, `${JSON.stringify(owner)}\n`);
  return release;
}

function inUse(directory: string, owner: Owner | undefined): string {
  const who = owner === undefined ? 'another process' : `process ${owner.pid} on ${owner.host} (since ${owner.since})`;
  return `DATA_DIR ${directory} is in use by ${who}: stop that process or set another DATA_DIR`;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as Partial<Owner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as Owner) : undefined;
  } catch {
    return undefined;
  }
}

function isLocked(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ELOCKED';
}
