import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bearer, startTestApp, uniqueId } from './support/platform.js';
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
