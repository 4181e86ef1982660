/**
 * The authorization matrix: EVERY route of the built app × every kind of caller, with the status
 * each must get — and refused writes change nothing, while allowed writes do change something.
 * The same table drives the mass-assignment check: every write route refuses an unknown
 * top-level field with a 400 naming it, and writes nothing.
 *
 * The routes come from the app itself (`app.routeTable`, recorded by an onRoute hook), so a
 * route added without a row here fails `every route has a row` — and a row whose route is gone
 * fails too.
 *
 * Adding a route (e.g. after merging goal views, reports, webhook subscriptions, inbound):
 *   1. add a `row('METHOD /path/:as/registered', request, [admin, supervisor, owner, team, other, integrator, anonymous])`
 *      to ROWS: `request(f)` returns the concrete url (and body) for the fixture `f`;
 *   2. if it writes outside the fixture case, give `written(f)` (what must not change when it
 *      is refused, and must when it is allowed);
 *   3. if it needs state the fixture lacks (a subscription to delete, an inbound source), add it
 *      to `Fixture` and `freshFixture()`, or use `prepare`;
 *   4. a write whose body is deliberately free-form (a signed inbound webhook) sets `openBody`
 *      with the reason, which turns the mass-assignment check off for it.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../../src/persistence/api-key-store.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, fragmentOf, taskOf, type CaseView, type TaskView } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

/** The callers, in the order of the matrix columns. */
const WHO = ['admin', 'supervisor', 'owner', 'team', 'other', 'integrator', 'anonymous'] as const;
type Who = (typeof WHO)[number];
// admin, supervisor, integrator: keys of those roles. owner: the agent who owns the case.
// team: an agent whose team is the case's queue (the open task is queued there too).
// other: an agent of another team. anonymous: no Authorization header.

interface Fixture {
  case: CaseView;
  /** The verify-identity task, queued to the case's team. */
  task: TaskView;
  /** The verify-identity fragment. */
  fragmentId: string;
  /** An active agent key, to revoke. */
  keyId: string;
  /** Unique per fixture, for things a request would create. */
  tag: string;
}

interface Request {
  url: string;
  body?: Record<string, unknown>;
}

interface Row {
  /** `METHOD /url` exactly as registered. */
  route: string;
  request: (f: Fixture) => Request;
  expect: Record<Who, number>;
  /** Brings a fresh fixture into the state the route needs (e.g. hold before resume). */
  prepare?: (f: Fixture) => Promise<void>;
  /** For a write outside the fixture case: a reading of what it would write. */
  written?: (f: Fixture) => Promise<unknown>;
  /** Extra checks on an allowed answer (e.g. what a list shows to whom). */
  check?: (res: LightMyRequestResponse, f: Fixture, who: Who) => void;
  /** Set (with the reason) for a write whose body is free-form: no mass-assignment check. */
  openBody?: string;
}

const row = (route: string, request: Row['request'], statuses: readonly number[], extra: Partial<Row> = {}): Row => {
  expect(statuses, route).toHaveLength(WHO.length);
  return { route, request, expect: Object.fromEntries(WHO.map((w, i) => [w, statuses[i]!])) as Record<Who, number>, ...extra };
};

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let actors: Record<Exclude<Who, 'anonymous'>, Actor>;
const TEAM = uniqueId('matrix-team');
let shared: Fixture;

const ids = (res: LightMyRequestResponse) => (res.json().items as { id: string }[]).map((x) => x.id);

/** Lists show the fixture to those who may see it, and hide it from the rest. */
const listShows = (id: (f: Fixture) => string) => (res: LightMyRequestResponse, f: Fixture, who: Who) => {
  if (who === 'other') expect(ids(res), `${who} must not see it`).not.toContain(id(f));
  else expect(ids(res), `${who} must see it`).toContain(id(f));
};

const db = () => t.database.db;

//                                                                                       admin sup owner team other integ anon
const ROWS: Row[] = [
  // system and docs: public
  row('GET /health', () => ({ url: '/health' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /ready', () => ({ url: '/ready' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /openapi.json', () => ({ url: '/openapi.json' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs', () => ({ url: '/docs' }), [200, 200, 200, 200, 200, 200, 200]),
  // Swagger UI serves its page at /docs and redirects here.
  row('GET /docs/static/index.html', () => ({ url: '/docs/static/index.html' }), [302, 302, 302, 302, 302, 302, 302]),
  row('GET /docs/static/swagger-initializer.js', () => ({ url: '/docs/static/swagger-initializer.js' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/json', () => ({ url: '/docs/json' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/yaml', () => ({ url: '/docs/yaml' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/static/*', () => ({ url: '/docs/static/swagger-ui.css' }), [200, 200, 200, 200, 200, 200, 200]),

  // keys
  row('GET /v1/me', () => ({ url: '/v1/me' }), [200, 200, 200, 200, 200, 200, 401]),
  row('POST /v1/api-keys', (f) => ({ url: '/v1/api-keys', body: { role: 'agent', user_id: `new-${f.tag}`, name: 'matrix' } }), [201, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('api_keys').select('id').where('user_id', '=', `new-${f.tag}`).execute()).length,
  }),
  row('DELETE /v1/api-keys/:id', (f) => ({ url: `/v1/api-keys/${f.keyId}` }), [204, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('api_keys').select('revoked_at').where('id', '=', f.keyId).executeTakeFirstOrThrow()).revoked_at,
  }),

  // catalog: any key
  row('GET /v1/templates', () => ({ url: '/v1/templates' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/templates/:key', () => ({ url: '/v1/templates/billing-dispute' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/fragments', () => ({ url: '/v1/fragments' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/fragments/:key', () => ({ url: '/v1/fragments/verify-identity' }), [200, 200, 200, 200, 200, 200, 401]),

  // cases
  row('POST /v1/cases', (f) => ({ url: '/v1/cases', body: { template: 'billing-dispute', title: `New ${f.tag}` } }), [201, 201, 201, 201, 201, 403, 401], {
    written: async (f) => (await db().selectFrom('cases').select('id').where('title', '=', `New ${f.tag}`).execute()).length,
  }),
  row('GET /v1/cases', () => ({ url: `/v1/cases?queue=${TEAM}&limit=100` }), [200, 200, 200, 200, 200, 403, 401], { check: listShows((f) => f.case.id) }),
  row('GET /v1/cases/:id', (f) => ({ url: `/v1/cases/${f.case.id}` }), [200, 200, 200, 200, 404, 403, 401], {
    check: (res, f, who) => expect(res.json().id, who).toBe(f.case.id),
  }),
  row('GET /v1/cases/:id/timeline', (f) => ({ url: `/v1/cases/${f.case.id}/timeline` }), [200, 200, 200, 200, 404, 403, 401]),
  row('GET /v1/cases/:id/content', (f) => ({ url: `/v1/cases/${f.case.id}/content` }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/cases/:id/events', (f) => ({ url: `/v1/cases/${f.case.id}/events`, body: { type: 'BILLING_RECORDS_RECEIVED', data: { records: [] } } }), [200, 200, 200, 200, 404, 200, 401]),
  row('POST /v1/cases/:id/content', (f) => ({ url: `/v1/cases/${f.case.id}/content`, body: { kind: 'note', data: { text: 'matrix' } } }), [201, 201, 201, 201, 404, 201, 401]),
  row('POST /v1/cases/:id/fragments', (f) => ({ url: `/v1/cases/${f.case.id}/fragments`, body: { ref: 'credit-note@1' } }), [201, 201, 201, 201, 404, 403, 401]),
  row('POST /v1/cases/:id/fragments/:fid/adapt', (f) => ({ url: `/v1/cases/${f.case.id}/fragments/${f.fragmentId}/adapt`, body: { action: 'cancel', reason: 'matrix' } }), [200, 200, 200, 403, 404, 403, 401]),
  row('POST /v1/cases/:id/goals', (f) => ({ url: `/v1/cases/${f.case.id}/goals`, body: { key: 'matrix_goal', title: 'Matrix', condition: 'true' } }), [201, 201, 201, 201, 404, 403, 401]),
  row('PATCH /v1/cases/:id/goals/:key', (f) => ({ url: `/v1/cases/${f.case.id}/goals/decision_made`, body: { title: 'Decided', reason: 'matrix' } }), [200, 200, 403, 403, 403, 403, 401]),
  row('POST /v1/cases/:id/reassign', (f) => ({ url: `/v1/cases/${f.case.id}/reassign`, body: { queue: TEAM, reason: 'matrix' } }), [200, 200, 200, 403, 404, 403, 401]),
  row('POST /v1/cases/:id/hold', (f) => ({ url: `/v1/cases/${f.case.id}/hold`, body: { reason: 'waiting on the customer' } }), [200, 200, 200, 403, 404, 403, 401]),
  row('POST /v1/cases/:id/resume', (f) => ({ url: `/v1/cases/${f.case.id}/resume`, body: { reason: 'customer answered' } }), [200, 200, 200, 403, 404, 403, 401], {
    prepare: async (f) => void (await api.expectStatus(await api.call(actors.supervisor, 'POST', `/v1/cases/${f.case.id}/hold`, { reason: 'waiting' }), 200)),
  }),
  row('POST /v1/cases/:id/close', (f) => ({ url: `/v1/cases/${f.case.id}/close`, body: { reason: 'matrix', status: 'cancelled' } }), [200, 200, 200, 403, 404, 403, 401]),

  // tasks
  row('GET /v1/tasks', (f) => ({ url: `/v1/tasks?case_id=${f.case.id}` }), [200, 200, 200, 200, 200, 403, 401], {
    check: (res, f, who) => {
      if (who === 'other') expect(ids(res)).toEqual([]);
      else expect(ids(res), who).toContain(f.task.id);
    },
  }),
  row('POST /v1/tasks/:id/claim', (f) => ({ url: `/v1/tasks/${f.task.id}/claim` }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/tasks/:id/complete', (f) => ({ url: `/v1/tasks/${f.task.id}/complete`, body: { output: { method: 'id_document', passed: true } } }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/tasks/:id/reassign', (f) => ({ url: `/v1/tasks/${f.task.id}/reassign`, body: { assignment: { queue: `${TEAM}-2` } } }), [200, 200, 403, 403, 403, 403, 401]),
];

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const isWrite = (r: Row) => WRITES.has(r.route.split(' ')[0]!);
/** Allowed: 2xx (or the docs redirect); refused: 4xx. */
const ok = (status: number) => status >= 200 && status < 400;

/** A case owned by `owner`, queued to TEAM, its verify-identity task queued to TEAM as well. */
async function freshFixture(): Promise<Fixture> {
  const tag = uniqueId('m');
  const opened = await api.open(actors.supervisor, {
    template: 'billing-dispute',
    title: `Matrix ${tag}`,
    owner_id: actors.owner.userId,
    queue: TEAM,
    case_file: { account: { id: 'acc-m' } },
  });
  const fragmentId = fragmentOf(opened, 'verify-identity').id;
  const task = taskOf(opened, fragmentId, 'verifying');
  await api.reassignTask(actors.supervisor, task.id, { assignment: { queue: TEAM } });
  const c = await api.get(actors.supervisor, opened.id);
  const key = await createApiKeyStore(db()).create({ role: 'agent', userId: `revokable-${tag}`, name: 'matrix' });
  return { case: c, task: taskOf(c, fragmentId, 'verifying'), fragmentId, keyId: key.keyId, tag };
}

function send(who: Who, r: Row, req: Request, extraBody?: Record<string, unknown>) {
  const [method] = r.route.split(' ') as ['GET' | 'POST' | 'PATCH' | 'DELETE'];
  const body = extraBody ? { ...(req.body ?? {}), ...extraBody } : req.body;
  return t.app.inject({
    method,
    url: req.url,
    headers: {
      ...(who === 'anonymous' ? {} : actors[who].headers),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

/** Everything a request could have changed: the fixture case's rows, and the row's own probe. */
async function reading(r: Row, f: Fixture) {
  return { case: await rows.snapshot(f.case.id), written: await r.written?.(f) };
}

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  const d = t.database.db;
  actors = {
    admin: await createActor(d, 'admin'),
    supervisor: await createActor(d, 'supervisor'),
    owner: await createActor(d, 'agent'),
    team: await createActor(d, 'agent', undefined, [TEAM]),
    other: await createActor(d, 'agent', undefined, [uniqueId('other-team')]),
    integrator: await createActor(d, 'integrator'),
  };
  shared = await freshFixture();
});
afterAll(() => t.close());

describe('the authorization matrix', () => {
  it('every route of the app has a row, and every row a route', () => {
    // HEAD routes are Fastify's automatic twins of GET routes: same hooks, same answer.
    const served = [...new Set(t.app.routeTable.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`))].sort();
    const covered = ROWS.map((r) => r.route).sort();
    expect(served.filter((r) => !covered.includes(r)), 'routes without a row in ROWS (add one: see the comment at the top)').toEqual([]);
    expect(covered.filter((r) => !served.includes(r)), 'rows for routes the app does not serve').toEqual([]);
  });

  for (const r of ROWS) {
    it(`${r.route}: ${WHO.map((w) => `${w} ${r.expect[w]}`).join(', ')}`, async () => {
      for (const who of WHO) {
        const expected = r.expect[who];
        // An allowed write changes its fixture, so it gets its own; so does a route that
        // prepares state. Refusals and reads share one fixture, which must stay as it was.
        const own = (isWrite(r) && ok(expected)) || r.prepare !== undefined;
        const f = own ? await freshFixture() : shared;
        await r.prepare?.(f);
        const before = isWrite(r) ? await reading(r, f) : undefined;
        const res = await send(who, r, r.request(f));
        expect(res.statusCode, `${who}: ${r.route} -> ${res.body.slice(0, 300)}`).toBe(expected);
        // Every refusal is problem+json.
        if (!ok(expected)) expect(res.headers['content-type'], `${who}: ${r.route}`).toMatch(/^application\/problem\+json/);
        if (ok(expected)) r.check?.(res, f, who);
        if (before) {
          const after = await reading(r, f);
          if (ok(expected)) expect(after, `${who}: ${r.route} must write something`).not.toEqual(before);
          else expect(after, `${who}: ${r.route} was refused and must write nothing`).toEqual(before);
        }
      }
    });
  }
});

describe('mass assignment', () => {
  // Each write route, called by the first caller the matrix allows, with one unknown top-level
  // field: a 400 naming it, and nothing written.
  for (const r of ROWS.filter((x) => isWrite(x) && x.route.split(' ')[0] !== 'DELETE' && !x.openBody)) {
    it(`${r.route} refuses an unknown field`, async () => {
      const who = WHO.find((w) => ok(r.expect[w]))!;
      const f = await freshFixture();
      await r.prepare?.(f);
      const before = await reading(r, f);
      const res = await send(who, r, r.request(f), { unexpected_field: true });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem.code).toBe('VALIDATION_FAILED');
      expect(problem.errors).toContainEqual({ pointer: '/unexpected_field', in: 'body', detail: expect.stringContaining('not a known field') });
      expect(await reading(r, f)).toEqual(before);
    });
  }
});
