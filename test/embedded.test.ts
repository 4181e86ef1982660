/**
 * Smoke test of embedded mode as a user runs it: no DATABASE_URL, no REDIS_URL; PGlite under
 * TESSERA_DATA_DIR and jobs in process. Not a stand-in for the real services elsewhere.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from './support/process.js';

const ADMIN_KEY = 'embedded-admin-key-0123456789';
let dataDir: string;

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('embedded mode', () => {
  it('starts, is ready, stops on SIGTERM, and a second start reuses the data dir', { timeout: 150_000 }, async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-embedded-'));
    const env = { TESSERA_DATA_DIR: dataDir, TESSERA_ADMIN_KEY: ADMIN_KEY };

    const first = await startServer(env);
    expect(await (await fetch(`${first.baseUrl}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${first.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', mode: 'embedded', checks: [{ name: 'postgres', ok: true }] });

    // The shipped case templates are loaded at start.
    const templates = await fetch(`${first.baseUrl}/v1/templates`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const keys = ((await templates.json()) as { items: { key: string }[] }).items.map((t) => t.key);
    expect(keys).toEqual(['billing-dispute', 'callback-request', 'product-repair', 'social-complaint']);

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

  it('exits non-zero with one line naming a bad variable', async () => {
    const { runTs } = await import('./support/process.js');
    const result = await runTs('src/server.ts', [], { PORT: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('tessera: invalid configuration: PORT must be an integer from 0 to 65535 (got "abc")');
  });
});
