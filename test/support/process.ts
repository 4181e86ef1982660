/** Starting Tessera as a real child process (smoke tests of the program as users run it). */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface RunningServer {
  child: ChildProcessWithoutNullStreams;
  baseUrl: string;
  output: () => string;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/**
 * Runs a TypeScript entry point of the repo through tsx, as `npm start` runs the build.
 * `preload`: modules of the repo to `--import` before it (test seams).
 */
export function spawnTs(entry: string, args: string[], env: Record<string, string>, preload: string[] = []) {
  const imports = preload.flatMap((p) => ['--import', path.join(ROOT, p)]);
  return spawn(process.execPath, ['--import', 'tsx', ...imports, path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
  });
}

/** `timeoutMs`: a fresh PGlite cluster plus tsx take ~15 s alone, and several times that on a loaded machine. */
export async function startServer(env: Record<string, string>, timeoutMs = 180_000, preload: string[] = []): Promise<RunningServer> {
  const child = spawnTs('src/server.ts', [], { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env }, preload);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave a server behind the test
      reject(new Error(`server did not listen within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    child,
    baseUrl,
    output: () => out,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      const started = Date.now();
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
        child.kill(signal);
      });
    },
  };
}

/** `input`: written to the child's standard input, which is then closed (it is closed at once without). */
export function runTs(entry: string, args: string[], env: Record<string, string>, input = '') {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawnTs(entry, args, env);
    child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
