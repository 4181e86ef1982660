/**
 * Capture -> publish -> a new case uses the new version while an old case keeps running on the
 * old one, in two server processes against one database: process B never restarts and gets no
 * message; it sees the version A published through the catalog revision it reads before opening
 * a case on the latest version.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startServer, type RunningServer } from '../support/process.js';
import { ADMIN_KEY, SECRET_KEY } from '../support/platform.js';
import { createLearningCatalog, inlineSupplierCall, type LearningCatalog } from '../support/learning-catalog.js';

let cat: LearningCatalog;
let a: RunningServer | undefined;
let b: RunningServer | undefined;

beforeAll(async () => {
  cat = await createLearningCatalog();
  const env = (name: string) => ({
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: `${inject('redisPrefix')}-learn2p-${name}`,
    TESSERA_TEMPLATES_DIR: cat.dir,
    TESSERA_SECRET_KEY: SECRET_KEY,
    TESSERA_ADMIN_KEY: ADMIN_KEY,
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_ROLE: 'api',
  });
  [a, b] = await Promise.all([startServer(env('a')), startServer(env('b'))]);
}, 240_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function call(server: RunningServer, method: string, url: string, body?: unknown) {
  const res = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('publishing across processes', () => {
  it('a version published by A opens new cases on B at once, while B keeps running the old cases on v1', async () => {
    // B opens a case on v1 (its catalog is loaded and warm) and keeps it running.
    const old = await call(b!, 'POST', '/v1/cases', { template: cat.template, title: 'old' });
    expect(old.status).toBe(201);
    expect(old.body.template.version).toBe(1);

    // A resolves a case with an improvised step, captures it and publishes v2.
    const c = await call(a!, 'POST', '/v1/cases', { template: cat.template, title: 'model case' });
    expect((await call(a!, 'POST', `/v1/cases/${c.body.id}/fragments`, { definition: inlineSupplierCall(`Call the supplier ${cat.template}`) })).status).toBe(201);
    expect((await call(a!, 'POST', `/v1/cases/${c.body.id}/events`, { type: 'FINISH' })).body.status).toBe('resolved');
    const draft = await call(a!, 'POST', `/v1/templates/${cat.template}/drafts`, { from_case: c.body.id });
    expect(draft.status).toBe(201);
    expect(draft.body.problems).toEqual([]);
    const published = await call(a!, 'POST', `/v1/template-drafts/${draft.body.id}/publish`, {});
    expect(published.status).toBe(200);
    const promoted = published.body.fragments[0] as string;

    // B, right away: the latest version is v2, a new case opens on it and can add the promoted fragment.
    expect((await call(b!, 'GET', `/v1/templates/${cat.template}`)).body.version).toBe(2);
    const fresh = await call(b!, 'POST', '/v1/cases', { template: cat.template, title: 'new' });
    expect(fresh.status).toBe(201);
    expect(fresh.body.template).toEqual({ key: cat.template, version: 2 });
    expect((await call(b!, 'POST', `/v1/cases/${fresh.body.id}/fragments`, { ref: promoted })).status).toBe(201);
    // A case B opens on v2 is worked on A as well.
    expect((await call(a!, 'POST', `/v1/cases/${fresh.body.id}/events`, { type: 'FINISH' })).body).toMatchObject({ status: 'resolved', template: { version: 2 } });

    // The old case stays on v1 on both processes: v2's fragment is not offered to it, and it resolves on v1.
    expect((await call(a!, 'POST', `/v1/cases/${old.body.id}/fragments`, { ref: promoted })).status).toBe(422);
    const finished = await call(b!, 'POST', `/v1/cases/${old.body.id}/events`, { type: 'FINISH' });
    expect(finished.body).toMatchObject({ status: 'resolved', template: { key: cat.template, version: 1 } });
  });
});
