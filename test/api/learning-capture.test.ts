/**
 * Capture a plan as a template (issue 13): a supervisor drafts the next version from a resolved
 * case, reviews the diff, edits, publishes; new cases open on it, running cases stay on theirs;
 * the published version exports as YAML the loader reads back to the same definition.
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { canonicalHash } from '../../src/templates/canonical-hash.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import { createActor, type Actor } from '../support/actors.js';
import { createLearningCatalog, inlineSupplierCall, type LearningCatalog } from '../support/learning-catalog.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let cat: LearningCatalog;
let supervisor: Actor;
let agent: Actor;

beforeAll(async () => {
  cat = await createLearningCatalog();
  t = await startTestApp({ templatesDir: cat.dir, prefixSuffix: '-learn-capture' });
  supervisor = await createActor(t.database.db, 'supervisor');
  agent = await createActor(t.database.db, 'agent');
});
afterAll(async () => {
  await t?.close();
});

const call = (actor: Actor, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url, headers: { ...actor.headers, ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) });

async function openCase(actor: Actor, caseFile: Record<string, unknown> = { tier: 'gold' }) {
  const res = await call(actor, 'POST', '/v1/cases', { template: cat.template, title: 'learning', case_file: caseFile, owner_id: actor.userId });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; template: { key: string; version: number }; status: string; fragments: { id: string; definition: string }[] };
}

async function resolvedCaseWithPlan(title: string) {
  const c = await openCase(supervisor);
  const inline = await call(supervisor, 'POST', `/v1/cases/${c.id}/fragments`, { definition: inlineSupplierCall(title) });
  expect(inline.statusCode).toBe(201);
  const library = await call(supervisor, 'POST', `/v1/cases/${c.id}/fragments`, { ref: `${cat.extra}@1` });
  expect(library.statusCode).toBe(201);
  const done = await call(supervisor, 'POST', `/v1/cases/${c.id}/events`, { type: 'FINISH' });
  expect(done.statusCode).toBe(200);
  expect(done.json().status).toBe('resolved');
  return c.id;
}

const definitionCount = async () => Number((await t.database.db.selectFrom('definitions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

describe('capture -> review -> edit -> publish', () => {
  it('drafts the next version from the plan, publishes it, and new cases open on it while old ones keep theirs', async () => {
    const title = `Call the supplier ${cat.template}`;
    const resolved = await resolvedCaseWithPlan(title);
    const running = await openCase(supervisor);
    expect(running.template.version).toBe(1);

    // Capture.
    const created = await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: resolved }, { 'idempotency-key': `cap-${resolved}` });
    expect(created.statusCode).toBe(201);
    const draft = created.json();
    expect(created.headers.etag).toBe('"v1"');
    expect(draft.template.version).toBe(2);
    expect(draft.problems).toEqual([]);
    const promotedKey = `call-the-supplier-${cat.template}`;
    expect(draft.fragments).toHaveLength(1);
    expect(draft.fragments[0]).toMatchObject({ key: promotedKey, version: 1, title, machine: inlineSupplierCall(title).machine });
    expect(draft.template.defaultFragments).toEqual([`${cat.finish}@1`]);
    expect(draft.template.discretionaryFragments).toEqual([`${cat.extra}@1`, `${promotedKey}@1`]);
    expect(draft.capture.promoted).toHaveLength(1);
    // The same key replays the first answer, not a second draft.
    const replay = await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: resolved }, { 'idempotency-key': `cap-${resolved}` });
    expect(replay.json().id).toBe(draft.id);

    // Review the diff against the current version.
    const diff = await call(supervisor, 'GET', `/v1/template-drafts/${draft.id}/diff`);
    expect(diff.statusCode).toBe(200);
    expect(diff.json().against).toBe(`${cat.template}@1`);
    expect(diff.json().changes).toEqual([{ op: 'add', path: '/discretionaryFragments', after: `${promotedKey}@1` }]);
    expect(diff.json().new_fragments).toEqual([`${promotedKey}@1`]);

    // Edit: If-Match is required and must be current.
    const patchBody = { template: { title: 'Learning loop test, with the supplier call' } };
    expect((await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, patchBody)).statusCode).toBe(428);
    const stale = await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, patchBody, { 'if-match': '"v7"' });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers['content-type']).toContain('application/problem+json');
    const edited = await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, patchBody, { 'if-match': '"v1"' });
    expect(edited.statusCode).toBe(200);
    expect(edited.headers.etag).toBe('"v2"');
    expect(edited.json().template.title).toBe('Learning loop test, with the supplier call');

    // An edit that breaks the template is kept but cannot be published; nothing is written.
    const broken = await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, { template: { goals: [{ key: 'done', title: 'Done', condition: "'done' in milestones &&", required: true }] } }, { 'if-match': '"v2"' });
    expect(broken.statusCode).toBe(200);
    expect(broken.json().problems.map((p: { code: string; pointer: string }) => [p.code, p.pointer])).toContainEqual(['INVALID_EXPRESSION', '/goals/0/condition']);
    const before = await definitionCount();
    const refused = await call(supervisor, 'POST', `/v1/template-drafts/${draft.id}/publish`, {});
    expect(refused.statusCode).toBe(422);
    expect(refused.json().problems[0]).toMatchObject({ code: 'INVALID_EXPRESSION', pointer: '/goals/0/condition' });
    expect(await definitionCount()).toBe(before);
    expect((await call(supervisor, 'GET', `/v1/templates/${cat.template}`)).json().version).toBe(1);

    // Key and version of a draft are fixed.
    const rekey = await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, { template: { version: 9 } }, { 'if-match': '"v3"' });
    expect(rekey.statusCode).toBe(400);
    expect(rekey.json().errors[0].pointer).toBe('/template/version');

    const fixed = await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, { template: { goals: [{ key: 'done', title: 'Done within a day', condition: "'done' in milestones", required: true, deadline: 'P1D' }] } }, { 'if-match': '"v3"' });
    expect(fixed.json().problems).toEqual([]);

    // Publish.
    const published = await call(supervisor, 'POST', `/v1/template-drafts/${draft.id}/publish`, {}, { 'if-match': '"v4"' });
    expect(published.statusCode).toBe(200);
    expect(published.json()).toMatchObject({ template: `${cat.template}@2`, fragments: [`${promotedKey}@1`] });
    expect((await call(supervisor, 'POST', `/v1/template-drafts/${draft.id}/publish`, {})).statusCode).toBe(409);
    const stored = await t.database.db.selectFrom('definitions').select(['kind', 'key', 'version', 'source']).where('key', 'in', [cat.template, promotedKey]).orderBy('kind').orderBy('version').execute();
    expect(stored).toEqual([
      { kind: 'fragment', key: promotedKey, version: 1, source: 'published' },
      { kind: 'template', key: cat.template, version: 1, source: 'file' },
      { kind: 'template', key: cat.template, version: 2, source: 'published' },
    ]);

    // New cases open on the new version and may add the promoted fragment from the library.
    const fresh = await openCase(supervisor);
    expect(fresh.template).toEqual({ key: cat.template, version: 2 });
    const added = await call(supervisor, 'POST', `/v1/cases/${fresh.id}/fragments`, { ref: `${promotedKey}@1` });
    expect(added.statusCode).toBe(201);
    // The case on version 1 keeps it: it still runs, resolves on v1, and may not add the v2-only fragment.
    const refusedAdd = await call(supervisor, 'POST', `/v1/cases/${running.id}/fragments`, { ref: `${promotedKey}@1` });
    expect(refusedAdd.statusCode).toBe(422);
    const finished = await call(supervisor, 'POST', `/v1/cases/${running.id}/events`, { type: 'FINISH' });
    expect(finished.json()).toMatchObject({ status: 'resolved', template: { key: cat.template, version: 1 } });
  });

  it('exports the published version as YAML that the loader reads back to the same definitions', async () => {
    const versions = await call(supervisor, 'GET', `/v1/templates/${cat.template}/versions`);
    expect(versions.statusCode).toBe(200);
    const latest = versions.json().items.at(-1);
    expect(latest.source).toBe('published');
    const exported = await call(supervisor, 'GET', latest.export_url);
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toContain('application/yaml');
    const template = YAML.parse(exported.body);

    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-export-'));
    await mkdir(path.join(dir, 'fragments'));
    await writeFile(path.join(dir, `${cat.template}.yaml`), exported.body);
    for (const ref of [...template.defaultFragments, ...template.discretionaryFragments] as string[]) {
      const [key, version] = ref.split('@');
      const fragment = await call(supervisor, 'GET', `/v1/fragments/${key}/versions/${version}/export`);
      expect(fragment.statusCode).toBe(200);
      await writeFile(path.join(dir, 'fragments', `${key}@${version}.yaml`), fragment.body);
    }
    const loaded = await loadCatalog(dir);
    expect(loaded.problems).toEqual([]);
    const row = await t.database.db.selectFrom('definitions').select(['hash']).where('kind', '=', 'template').where('key', '=', cat.template).where('version', '=', latest.version).executeTakeFirstOrThrow();
    expect(canonicalHash(loaded.templates[0])).toBe(row.hash);
    expect(loaded.fragments).toHaveLength(3);
  });

  it('refuses what it cannot do with problem+json and changes nothing', async () => {
    const open = await openCase(supervisor);
    const before = await t.database.db.selectFrom('template_drafts').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const notResolved = await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: open.id });
    expect(notResolved.statusCode).toBe(409);
    expect(notResolved.json().type).toContain('case-not-resolved');
    expect((await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: 'no-such-case' })).statusCode).toBe(404);
    expect((await call(supervisor, 'POST', '/v1/templates/no-such-template/drafts', {})).statusCode).toBe(404);
    const unknownField = await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: open.id, extra: 1 });
    expect(unknownField.statusCode).toBe(400);
    expect((await call(agent, 'POST', `/v1/templates/${cat.template}/drafts`, {})).statusCode).toBe(403);
    expect((await call(supervisor, 'GET', '/v1/template-drafts/tdr_missing')).statusCode).toBe(404);
    expect((await call(supervisor, 'GET', `/v1/templates/${cat.template}/versions/99/export`)).statusCode).toBe(404);
    const after = await t.database.db.selectFrom('template_drafts').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('refuses to publish a draft whose version was published meanwhile', async () => {
    const a = (await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, {})).json();
    const b = (await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, {})).json();
    expect(a.template.version).toBe(b.template.version);
    expect((await call(supervisor, 'POST', `/v1/template-drafts/${a.id}/publish`, {})).statusCode).toBe(200);
    const late = await call(supervisor, 'POST', `/v1/template-drafts/${b.id}/publish`, {});
    expect(late.statusCode).toBe(409);
    expect(late.json().type).toContain('template-version-taken');
    const draftB = (await call(supervisor, 'GET', `/v1/template-drafts/${b.id}`)).json();
    expect(draftB.status).toBe('draft');
  });

  it('discards a draft: it is kept as discarded, cannot be edited or published, and nothing is published', async () => {
    const draft = (await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, {})).json();
    const definitionsBefore = await definitionCount();
    expect((await call(agent, 'DELETE', `/v1/template-drafts/${draft.id}`)).statusCode).toBe(403);
    const stale = await call(supervisor, 'DELETE', `/v1/template-drafts/${draft.id}`, undefined, { 'if-match': '"v9"' });
    expect(stale.statusCode).toBe(412);
    expect((await call(supervisor, 'GET', `/v1/template-drafts/${draft.id}`)).json().status).toBe('draft');

    const discarded = await call(supervisor, 'DELETE', `/v1/template-drafts/${draft.id}`, undefined, { 'if-match': `"v${draft.revision}"` });
    expect(discarded.statusCode).toBe(200);
    expect(discarded.json()).toMatchObject({ id: draft.id, status: 'discarded', revision: draft.revision + 1 });
    const row = await t.database.db.selectFrom('template_drafts').select(['status', 'published_version']).where('id', '=', draft.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'discarded', published_version: null });
    const listed = (await call(supervisor, 'GET', `/v1/templates/${cat.template}/drafts`)).json().items.find((d: { id: string }) => d.id === draft.id);
    expect(listed.status).toBe('discarded');

    // Gone for editing and publishing; a second discard is refused too.
    expect((await call(supervisor, 'PATCH', `/v1/template-drafts/${draft.id}`, { template: { title: 'x' } }, { 'if-match': `"v${draft.revision + 1}"` })).statusCode).toBe(409);
    expect((await call(supervisor, 'POST', `/v1/template-drafts/${draft.id}/publish`, {})).statusCode).toBe(409);
    const again = await call(supervisor, 'DELETE', `/v1/template-drafts/${draft.id}`);
    expect(again.statusCode).toBe(409);
    expect(again.json().type).toContain('draft-not-editable');
    expect(await definitionCount()).toBe(definitionsBefore);
    expect((await call(supervisor, 'DELETE', '/v1/template-drafts/tdr_missing')).statusCode).toBe(404);
  });

  it('a published draft cannot be discarded', async () => {
    const draft = (await call(supervisor, 'POST', `/v1/templates/${cat.template}/drafts`, {})).json();
    expect((await call(supervisor, 'POST', `/v1/template-drafts/${draft.id}/publish`, {})).statusCode).toBe(200);
    const refused = await call(supervisor, 'DELETE', `/v1/template-drafts/${draft.id}`);
    expect(refused.statusCode).toBe(409);
    const row = await t.database.db.selectFrom('template_drafts').select('status').where('id', '=', draft.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('published');
  });
});
