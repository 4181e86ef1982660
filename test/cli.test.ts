import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bearer, startTestApp, TEMPLATES_DIR, uniqueId } from './support/platform.js';
import { runTs } from './support/process.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('tessera CLI', () => {
  it('migrate is idempotent on an up-to-date database', async () => {
    const result = await runTs('src/cli/main.ts', ['migrate'], { DATABASE_URL: inject('databaseUrl') });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('database is up to date');
  });

  it('keys create prints a key that authenticates with the chosen role', async () => {
    const userId = uniqueId('sup');
    const result = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'supervisor', '--user', userId, '--json'], {
      DATABASE_URL: inject('databaseUrl'),
    });
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as { key: string; role: string };
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(created.key) });
    expect(me.json()).toMatchObject({ user_id: userId, role: 'supervisor' });
  });

  it('keys create --teams gives the key the queues it works', async () => {
    const userId = uniqueId('agent');
    const result = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'agent', '--user', userId, '--teams', 'billing, social', '--json'], {
      DATABASE_URL: inject('databaseUrl'),
    });
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as { key: string; teams: string[] };
    expect(created.teams).toEqual(['billing', 'social']);
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(created.key) });
    expect(me.json()).toMatchObject({ user_id: userId, role: 'agent', teams: ['billing', 'social'] });
  });

  it('keys create refuses teams that are not queue ids and writes nothing', async () => {
    const userId = uniqueId('bad');
    const result = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'agent', '--user', userId, '--teams', ','], {
      DATABASE_URL: inject('databaseUrl'),
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('teams must be comma-separated queue ids');
    const rows = await t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).execute();
    expect(rows).toHaveLength(0);
  });

  it('keys create refuses an unknown role and writes nothing', async () => {
    const userId = uniqueId('bad');
    const result = await runTs('src/cli/main.ts', ['keys', 'create', '--role', 'boss', '--user', userId], {
      DATABASE_URL: inject('databaseUrl'),
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Allowed choices are agent, supervisor, integrator, admin");
    const rows = await t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).execute();
    expect(rows).toHaveLength(0);
  });
});

describe('tessera templates validate', () => {
  it('accepts the shipped catalog', async () => {
    const result = await runTs('src/cli/main.ts', ['templates', 'validate', '--offline'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok: 4 templates \(billing-dispute@1, callback-request@1, product-repair@1, social-complaint@2\), \d+ fragments/);
  });

  it('names file, line and problem for a broken template', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-cat-'));
    try {
      await writeFile(path.join(dir, 'broken.yaml'), 'key: broken\nversion: 1\ntitle: [oops\n');
      const result = await runTs('src/cli/main.ts', ['templates', 'validate', dir, '--offline'], {});
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${path.join(dir, 'broken.yaml')}:4:1`);
      expect(result.stderr).toContain('1 problem');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a changed file under a published version', async () => {
    // The test app published the shipped catalog to this run's database at start.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-cat-'));
    try {
      await cp(TEMPLATES_DIR, dir, { recursive: true });
      const file = path.join(dir, 'billing-dispute.yaml');
      await writeFile(file, (await readFile(file, 'utf8')).replace('title: Billing dispute', 'title: Billing dispute (edited)'));
      const result = await runTs('src/cli/main.ts', ['templates', 'validate', dir], { DATABASE_URL: inject('databaseUrl') });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('template billing-dispute@1 differs from the stored version; bump `version`');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
