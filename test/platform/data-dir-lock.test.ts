import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, LOCK_FILE, lockDataDir, type DataDirLock } from '../../src/platform/data-dir-lock.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const locks: DataDirLock[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-lock-'));
  dirs.push(dir);
  return path.join(dir, 'data');
}

afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.release();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A child process that takes the lock, says so, and then waits to be killed. */
function holdInChild(dataDir: string) {
  const script = `
    import { lockDataDir } from ${JSON.stringify(path.join(ROOT, 'src/platform/data-dir-lock.ts'))};
    await lockDataDir(${JSON.stringify(dataDir)}, 'lock holder');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return { child, locked };
}

describe('data directory lock', () => {
  it('refuses a second holder at once, naming the first, and is free again after release', async () => {
    const dataDir = await tempDir();
    const first = await lockDataDir(dataDir, 'tessera server');

    const refused = await lockDataDir(dataDir, 'tessera keys create').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DataDirInUseError);
    const inUse = refused as DataDirInUseError;
    expect(inUse.holder).toMatchObject({ pid: process.pid, command: 'tessera server' });
    expect(inUse.message).toMatch(
      new RegExp(`^The data directory ${dataDir} is in use by process ${process.pid} \\(tessera server, started \\d{4}-\\d\\d-\\d\\dT[^)]+\\)\\. Stop it first`),
    );

    await first.release();
    locks.push(await lockDataDir(dataDir, 'tessera keys create'));
  });

  it('creates the directory 0700 and the lock file 0600; publish records the URL and token, release clears them', async () => {
    const dataDir = await tempDir();
    const lock = await lockDataDir(dataDir, 'tessera server');
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    const file = path.join(dataDir, LOCK_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    await lock.publish({ adminUrl: 'http://127.0.0.1:4321', adminToken: 'tsl_token' });
    const refused = (await lockDataDir(dataDir, 'other').catch((err: unknown) => err)) as DataDirInUseError;
    expect(refused.holder).toEqual({
      pid: process.pid,
      command: 'tessera server',
      startedAt: expect.any(String),
      adminUrl: 'http://127.0.0.1:4321',
      adminToken: 'tsl_token',
    });

    await lock.release();
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('is refused while another process holds it, and free at once after that process is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const dataDir = await tempDir();
    const holder = holdInChild(dataDir);
    await holder.locked;

    const refused = (await lockDataDir(dataDir, 'tessera server').catch((err: unknown) => err)) as DataDirInUseError;
    expect(refused).toBeInstanceOf(DataDirInUseError);
    expect(refused.holder).toMatchObject({ pid: holder.child.pid, command: 'lock holder' });

    const exited = new Promise((resolve) => holder.child.once('exit', resolve));
    holder.child.kill('SIGKILL');
    await exited;
    // The kernel dropped the lock with the process; the file and its stale content are still there.
    expect(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')).toContain(`"pid":${holder.child.pid}`);
    locks.push(await lockDataDir(dataDir, 'tessera server'));
  });
});
