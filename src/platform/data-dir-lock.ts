/**
 * One writer per embedded data directory.
 *
 * PGlite keeps its own buffers in memory and writes them back to `<data dir>/pgdata`; a second
 * process opening the same files silently loses its writes (or the first one's) at the next
 * checkpoint, and PGlite itself takes no lock (its NodeFS only mounts the folder). So every
 * process that opens the embedded database first takes an exclusive lock on
 * `<data dir>/tessera.lock`, held for the whole life of the process.
 *
 * The lock is the kernel's, not a marker file: an advisory lock on an open file description
 * (fcntl F_OFD_SETLK on Linux, flock on macOS, LockFileEx on Windows, through
 * `fs-native-extensions`). The kernel drops it when the process dies, however it dies, so a
 * `kill -9` never leaves a stale lock and a reused pid never looks alive. The file's content is
 * only information for the process that is refused: who holds the lock, since when, and — for a
 * running server — where its HTTP API listens and a per-start admin token, so the CLI can ask it
 * (the file is 0600: only the data directory's owner can read the token). Content is trusted only
 * while the lock is held.
 *
 * The file is never deleted: deleting a lock file lets a process that opened the old inode and a
 * process that creates a new one both "hold" it.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import nativeFs from 'fs-native-extensions';

export const LOCK_FILE = 'tessera.lock';

// The locked byte lies past any content, so readers are never blocked where locks are
// mandatory (Windows); flock (macOS) locks the whole file regardless.
const LOCK_OFFSET = 2 ** 30;

/** What the holder of a data directory wrote into the lock file. */
export interface DataDirHolder {
  pid: number;
  /** ISO time the holder took the lock. */
  startedAt: string;
  /** What holds it: `tessera server`, `tessera keys create`, ... */
  command: string;
  /** A running server's API, reachable from this machine (loopback when it listens on all addresses). */
  adminUrl?: string;
  /** A per-start admin token the server accepts (see auth.ts); new at every start. */
  adminToken?: string;
}

/** Another live process holds the data directory. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    /** Undefined when the holder has not written its details yet (it is starting). */
    readonly holder: DataDirHolder | undefined,
  ) {
    super(`${describeHolder(dataDir, holder)}. Stop it first, or set TESSERA_DATA_DIR to another directory.`);
    this.name = 'DataDirInUseError';
  }
}

/** "The data directory /x is in use by process 1234 (tessera server, started ...)" */
export function describeHolder(dataDir: string, holder: DataDirHolder | undefined): string {
  const who = holder ? `process ${holder.pid} (${holder.command}, started ${holder.startedAt})` : 'another process (it is starting)';
  return `The data directory ${dataDir} is in use by ${who}`;
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Records how the CLI reaches this server: its URL and a per-start admin token. */
  publish(details: { adminUrl: string; adminToken: string }): Promise<void>;
  /** Clears the details and drops the lock; idempotent. */
  release(): Promise<void>;
}

/** A fresh admin token for one server start (32 random bytes). */
export function newAdminToken(): string {
  return `tsl_${randomBytes(32).toString('base64url')}`;
}

/**
 * Takes the data directory's lock at once or throws DataDirInUseError — it never waits, so a
 * second process is refused before it touches the database, arms a timer or starts a worker.
 * Creates the directory (0700) when missing.
 */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, LOCK_FILE);
  // O_RDWR without O_APPEND: the content is rewritten in place. A write lock needs a writable fd.
  const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  let locked: boolean;
  try {
    await handle.chmod(0o600);
    locked = nativeFs.tryLock(handle.fd, LOCK_OFFSET, 1);
  } catch (err) {
    await handle.close();
    throw err;
  }
  if (!locked) {
    await handle.close();
    throw new DataDirInUseError(dataDir, await readHolder(file));
  }
  const holder: DataDirHolder = { pid: process.pid, startedAt: new Date().toISOString(), command };
  await write(handle, holder);
  let released = false;
  return {
    dataDir,
    async publish(details) {
      if (released) return;
      Object.assign(holder, details);
      await write(handle, holder);
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await handle.truncate(0);
      } finally {
        // Closing the only descriptor drops the lock (the explicit unlock is for clarity).
        nativeFs.unlock(handle.fd, LOCK_OFFSET, 1);
        await handle.close();
      }
    },
  };
}

async function write(handle: FileHandle, holder: DataDirHolder): Promise<void> {
  const text = `${JSON.stringify(holder)}\n`;
  await handle.truncate(0);
  await handle.write(text, 0, 'utf8');
  await handle.sync();
}

/** The holder's details as written; undefined when absent or half-written (a holder starting). */
async function readHolder(file: string): Promise<DataDirHolder | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<DataDirHolder>;
    if (typeof value.pid !== 'number' || typeof value.startedAt !== 'string' || typeof value.command !== 'string') return undefined;
    return {
      pid: value.pid,
      startedAt: value.startedAt,
      command: value.command,
      ...(typeof value.adminUrl === 'string' ? { adminUrl: value.adminUrl } : {}),
      ...(typeof value.adminToken === 'string' ? { adminToken: value.adminToken } : {}),
    };
  } catch {
    return undefined;
  }
}
