/**
 * Smoke test of embedded mode as a user runs it: no DATABASE_URL, no REDIS_URL; PGlite under
 * TESSERA_DATA_DIR and jobs in process. Not a stand-in for the real services elsewhere.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTs, startServer } from './support/process.js';

const ADMIN_KEY = 'embedded-admin-key-0123456789';
// One data directory for the whole file (the tests run in order and each stops its servers):
// creating a fresh PGlite cluster costs ~10 s, several times that on a loaded machine.
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-embedded-'));
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('embedded mode', () => {
  it('starts, is ready, stops on SIGTERM, and a second start reuses the data dir', { timeout: 300_000 }, async () => {
    const env = { TESSERA_DEMO: 'false', TESSERA_DATA_DIR: dataDir, TESSERA_ADMIN_KEY: ADMIN_KEY };

    const first = await startServer(env);
    expect(await (await fetch(`${first.baseUrl}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${first.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', mode: 'embedded', checks: [{ name: 'postgres', ok: true }] });

    // The shipped case templates are loaded at start.
    const templates = await fetch(`${first.baseUrl}/v1/templates`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const keys = ((await templates.json()) as { items: { key: string }[] }).items.map((t) => t.key);
    expect(keys).toEqual(['billing-dispute', 'callback-request', 'product-repair', 'retention-outreach', 'social-complaint']);

    const created = await fetch(`${first.baseUrl}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'agent', user_id: 'ada', name: 'embedded' }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };

    const stopped = await first.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);

    const second = await startServer(env);
    const me = await fetch(`${second.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(await me.json()).toMatchObject({ user_id: 'ada', role: 'agent' });
    expect((await second.stop('SIGINT')).code).toBe(0);
  });

  it('refuses a second server on the same data directory at once, and the first keeps working', { timeout: 300_000 }, async () => {
    const dir = dataDir;
    const env = { TESSERA_DEMO: 'false', TESSERA_DATA_DIR: dir, TESSERA_ADMIN_KEY: ADMIN_KEY };
    const first = await startServer(env);
    try {
      const second = await runTs('src/server.ts', [], { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env });
      expect(second.code).toBe(3);
      expect(second.stderr.trim()).toMatch(
        new RegExp(
          `^tessera: The data directory ${dir} is in use by process ${first.child.pid} \\(tessera server, started [^)]+\\)\\. Stop it first, or set TESSERA_DATA_DIR to another directory\\.$`,
        ),
      );
      // Refused before anything opened: not one log line — no migration, no platform, no
      // re-armed timers, no workers, no listener.
      expect(second.stdout).toBe('');

      // The first server still reads and writes.
      const opened = await fetch(`${first.baseUrl}/v1/cases`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ template: 'billing-dispute', title: 'after the refused start' }),
      });
      expect(opened.status).toBe(201);
      expect(first.output()).not.toMatch(/"level":5\d/);
    } finally {
      expect((await first.stop('SIGTERM')).code).toBe(0);
    }
  });

  it('tessera keys create while the server runs creates a key the server accepts, also after a restart', { timeout: 300_000 }, async () => {
    const dir = dataDir;
    const env = { TESSERA_DEMO: 'false', TESSERA_DATA_DIR: dir };
    const first = await startServer(env);
    const created = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'supervisor', '--user', 'grace', '--json'], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const { key, role } = JSON.parse(created.stdout) as { key: string; role: string };
    expect(role).toBe('supervisor');
    const me = await fetch(`${first.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user_id: 'grace', role: 'supervisor' });

    // Text mode says it went through the server; migrate says what to do instead.
    // A new user (ada exists since the first test, without teams: a key acts with its user's
    // teams, so a key for her naming other teams would be refused).
    const text = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'agent', '--user', 'adele', '--teams', 'billing'], env);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain(`through the running server (process ${first.child.pid})`);
    const migrate = await runTs('src/cli/main.ts', ['migrate'], env);
    expect(migrate.code).toBe(3);
    expect(migrate.stderr).toContain(`is in use by process ${first.child.pid} (tessera server`);
    expect(migrate.stderr).toContain('to run them by hand, stop it first');

    expect((await first.stop('SIGTERM')).code).toBe(0);
    const second = await startServer(env);
    try {
      const again = await fetch(`${second.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
      expect(again.status).toBe(200);
      const agent = await fetch(`${second.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${text.stdout.trim()}` } });
      expect(await agent.json()).toMatchObject({ user_id: 'adele', role: 'agent', teams: ['billing'] });
      // The per-start admin token of the first start is dead.
      const lock = JSON.parse(await readFile(path.join(dir, 'tessera.lock'), 'utf8')) as { pid: number };
      expect(lock.pid).toBe(second.child.pid);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    // Stopped: the CLI opens the directory itself, and the key works at the next start.
    const offline = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'admin', '--user', 'root', '--json'], env);
    expect(offline.code).toBe(0);
    expect(await readFile(path.join(dir, 'tessera.lock'), 'utf8')).toBe('');
  });

  it('starts again at once after the server was killed with SIGKILL (no stale lock)', { timeout: 300_000 }, async () => {
    const dir = dataDir;
    const env = { TESSERA_DEMO: 'false', TESSERA_DATA_DIR: dir, TESSERA_ADMIN_KEY: ADMIN_KEY };
    const first = await startServer(env);
    const created = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'agent', '--user', 'ada', '--json'], env);
    expect(created.code).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    expect((await first.stop('SIGKILL')).code).toBe(null);

    const second = await startServer(env);
    try {
      const me = await fetch(`${second.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
      expect(me.status).toBe(200);
      // And the restarted server holds the directory: a CLI goes through it.
      const viaServer = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'agent', '--user', 'bob'], env);
      expect(viaServer.code).toBe(0);
      expect(viaServer.stderr).toContain(`through the running server (process ${second.child.pid})`);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
  });

  it('exits non-zero with one line naming a bad variable', { timeout: 120_000 }, async () => {
    const result = await runTs('src/server.ts', [], { PORT: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('tessera: invalid configuration: PORT must be an integer from 0 to 65535 (got "abc")');
  });
});
