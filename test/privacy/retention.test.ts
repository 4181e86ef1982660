/**
 * Retention per template on real Postgres: a template with `retention.closedCaseDays` has the
 * personal data of its cases closed longer ago than that masked by the retention pass (the
 * skeleton stays), while a case of the same template closed recently keeps everything.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEraser } from '../../src/privacy/erase-personal-data.js';
import { runRetention } from '../../src/privacy/retention.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { TEMPLATES_DIR, startTestApp, uniqueId } from '../support/platform.js';

const KEY = 'retention-probe';
let dir: string;
let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;

beforeAll(async () => {
  // The shipped templates plus one copy of billing-dispute under its own key with a 30-day retention,
  // so the pass touches only cases of this test.
  dir = mkdtempSync(path.join(tmpdir(), 'tessera-retention-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  const source = readFileSync(path.join(TEMPLATES_DIR, 'billing-dispute.yaml'), 'utf8');
  writeFileSync(path.join(dir, `${KEY}.yaml`), source.replace(/^key: billing-dispute$/m, `key: ${KEY}`) + '\nretention:\n  closedCaseDays: 30\n');
  t = await startTestApp({ templatesDir: dir });
  agent = await createActor(t.database.db, 'agent');
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openAndClose(title: string, customerId: string): Promise<string> {
  const api = caseApi(t);
  const opened = await api.call(agent, 'POST', '/v1/cases', { template: KEY, title, customer: { id: customerId } });
  api.expectStatus(opened, 201);
  const id = opened.json().id as string;
  const closed = await api.call(agent, 'POST', `/v1/cases/${id}/close`, { reason: 'customer withdrew the dispute' });
  api.expectStatus(closed, 200);
  return id;
}

const row = (id: string) =>
  t.database.db.selectFrom('cases').select(['id', 'title', 'template_key', 'status', 'version', 'opened_at', 'closed_at', 'erased_at']).where('id', '=', id).executeTakeFirstOrThrow();

describe('retention pass', () => {
  it('masks the personal data of a case closed longer ago than closedCaseDays and leaves a newer one untouched', async () => {
    const tag = uniqueId('ret');
    const oldTitle = `Dispute of Canary Oldname ${tag}`;
    const newTitle = `Dispute of Canary Newname ${tag}`;
    const oldId = await openAndClose(oldTitle, `cust-old-${tag}`);
    const newId = await openAndClose(newTitle, `cust-new-${tag}`);
    // Closed 40 days ago: only the time moves, the skeleton is what the API wrote.
    await sql`update cases set closed_at = now() - interval '40 days' where id = ${oldId}`.execute(t.database.db);
    const oldBefore = await row(oldId);
    const newBefore = await row(newId);
    expect(oldBefore.title).toBe(oldTitle);
    const journalHits = () =>
      sql<{ n: number }>`select count(*)::int as n from journal where case_id = ${oldId} and (data::text || coalesce(reason, '')) like ${'%Canary Oldname%'}`.execute(t.database.db);
    expect((await journalHits()).rows[0]!.n).toBeGreaterThan(0);

    const eraser = createEraser({ db: t.database.db, jobs: t.jobs, logger: pino({ level: 'silent' }) });
    const erased = await runRetention({ db: t.database.db, catalog: t.core.catalog, eraser, now: () => new Date() });
    expect(erased).toBeGreaterThanOrEqual(1);

    const oldAfter = await row(oldId);
    expect(oldAfter.erased_at).not.toBeNull();
    expect(oldAfter.title).not.toContain('Canary Oldname');
    // The skeleton stays: template, status, version, timings.
    expect(oldAfter).toMatchObject({ template_key: KEY, status: oldBefore.status, version: oldBefore.version, opened_at: oldBefore.opened_at, closed_at: oldBefore.closed_at });
    const stored = await sql<{ state: string }>`select state::text as state from cases where id = ${oldId}`.execute(t.database.db);
    expect(stored.rows[0]!.state).not.toContain('Canary Oldname');
    expect((await journalHits()).rows[0]!.n).toBe(0);

    // The case closed today is untouched.
    expect(await row(newId)).toEqual(newBefore);
    expect(newBefore.erased_at).toBeNull();
    const newState = await sql<{ state: string }>`select state::text as state from cases where id = ${newId}`.execute(t.database.db);
    expect(newState.rows[0]!.state).toContain('Canary Newname');

    // A second pass finds nothing more of this template's old case to do.
    await runRetention({ db: t.database.db, catalog: t.core.catalog, eraser, now: () => new Date() });
    expect((await row(oldId)).erased_at).toEqual(oldAfter.erased_at);
    expect(await row(newId)).toEqual(newBefore);
  });
});
