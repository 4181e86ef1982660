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
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUiRoot } from '../../src/http/ui-routes.js';
import { createApiKeyStore } from '../../src/persistence/api-key-store.js';
import { decideUser } from '../../src/people/user.js';
import { createUserStore } from '../../src/persistence/user-store.js';
import { hashPassword } from '../../src/platform/password-hash.js';
import { acceptInboxMessage } from '../../src/persistence/inbox-store.js';
import { newWebhookId } from '../../src/persistence/webhook-store.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, fragmentOf, taskOf, type CaseView, type TaskView } from '../support/case-api.js';
import { updateWorker } from '../support/people.js';
import { startTestApp, uniqueId } from '../support/platform.js';
import { sql } from 'kysely';
import { canonicalHash } from '../../src/templates/canonical-hash.js';

/** The callers, in the order of the matrix columns. */
/** One of the UI's built bundles (its name carries a content hash). */
const UI_BUNDLE = readdirSync(join(defaultUiRoot(), 'assets')).find((f) => f.endsWith('.js'));

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
  /** A webhook subscription the integrator created (disabled: fan-out never reaches it). */
  subscriptionId: string;
  /** A dead-lettered delivery of the case's case.opened event to that subscription. */
  deliveryId: string;
  /** When that event occurred (a replay range around it holds just it). */
  eventAt: Date;
  /** An inbound source with one secret, `secret` (id `secretId`). */
  source: { key: string; secret: string; secretId: string };
  /** The case's customer (created when the case was opened with it), one of its identities, and another customer to merge in. */
  customer: { id: string; email: string; identityId: string; mergeFromId: string };
  /** An unmatched inbox message of that source which its mapping now matches (retryable). */
  inboxId: string;
  /** An agent user (no key, no password) that user routes act on. */
  personId: string;
}

interface Request {
  url: string;
  body?: Record<string, unknown>;
  /** Extra headers (the Standard Webhooks signature of an inbound webhook). */
  headers?: Record<string, string>;
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
  /** Set (with the reason) for a write that, allowed, may find nothing to do (refusals must still write nothing). */
  mayWriteNothing?: string;
}

/** Content id of the post each fixture case got for the revisions row. */
const postOf = new Map<string, string>();
/** Template draft each fixture got for the draft rows. */
const draftOf = new Map<string, string>();

/**
 * A template of the fixture's own (a copy of callback-request under `mx-<tag>`), stored as if
 * another process had published it: publishing its next version changes nothing another test opens.
 */
async function privateTemplate(f: Fixture): Promise<string> {
  const key = `mx-${f.tag.slice(2)}`;
  const body = { ...t.core.catalog.template('callback-request')!, key, version: 1 };
  await db().insertInto('definitions').values({ kind: 'template', key, version: 1, hash: canonicalHash(body), source: 'published', body: JSON.stringify(body) }).execute();
  await db().updateTable('catalog_revision').set({ revision: sql`revision + 1` }).where('id', '=', 1).execute();
  return key;
}

/** A draft (a copy of the current version) of `key`, made by the supervisor. */
async function draftFor(f: Fixture, key = 'billing-dispute'): Promise<void> {
  const draft = await inject(actors.supervisor, 'POST', `/v1/templates/${key}/drafts`, {});
  draftOf.set(f.tag, draft.id);
}
const draftRow = (f: Fixture) => db().selectFrom('template_drafts').select(['revision', 'status', 'body']).where('id', '=', draftOf.get(f.tag)!).executeTakeFirst();

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

/** This run's webhook receiver URLs: loopback (allowlisted below), the discard port; nothing is sent here. */
const HOOKS = `http://127.0.0.1:9/${uniqueId('matrix-hooks')}`;
/** This run's inbound source keys start with it. */
const SOURCES = uniqueId('mx');
/** The fixture sources' mapping: `matrix.ping` messages correlate by their data.id; nothing else matches. */
const PING_MAPPING = {
  rules: [{ name: 'matrix pings', when: "type = 'matrix.ping'", correlate: { by: 'external_ref', ref: 'matrix_id', value: 'data.id' }, event: { type: 'MATRIX_PING' } }],
};

/** Goal lists show the fixture case's goals to those who may see them (only they get a 200). */
const goalsShow = (res: LightMyRequestResponse, f: Fixture, who: Who) =>
  expect((res.json().items as { case_id: string }[]).map((g) => g.case_id), who).toContain(f.case.id);

/** A signed inbound webhook (Standard Webhooks) for the fixture source; its payload matches no rule. */
function signedInbound(f: Fixture): Request {
  const body = { type: 'matrix.unrouted', data: { id: f.tag } };
  const id = `msg_${f.tag}`;
  const now = new Date();
  return {
    url: `/v1/inbound/${f.source.key}`,
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(f.source.secret).sign(id, now, JSON.stringify(body)),
    },
  };
}

const subscriptionRow = (f: Fixture) => db().selectFrom('webhook_subscriptions').selectAll().where('id', '=', f.subscriptionId).executeTakeFirst();
const deliveryRow = (f: Fixture) => db().selectFrom('webhook_deliveries').selectAll().where('subscription_id', '=', f.subscriptionId).execute();
const personRow = (f: Fixture) => db().selectFrom('users').selectAll().where('id', '=', f.personId).executeTakeFirst();
/** A user with a password, whom POST /v1/sessions signs in. */
const SIGNABLE_PASSWORD = 'matrix sign-in password';
let signable: { id: string; username: string };
const customerRow = (f: Fixture) => db().selectFrom('customers').select(['version', 'state']).where('id', '=', f.customer.id).executeTakeFirst();
const sourceRow = (f: Fixture) => db().selectFrom('inbound_sources').selectAll().where('key', '=', f.source.key).executeTakeFirst();

//                                                                                       admin sup owner team other integ anon
const ROWS: Row[] = [
  // system and docs: public
  row('GET /health', () => ({ url: '/health' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /ready', () => ({ url: '/ready' }), [200, 200, 200, 200, 200, 200, 200]),
  // Prometheus scrape: an admin key (or the scrape token); nobody else
  row('GET /metrics', () => ({ url: '/metrics' }), [200, 403, 403, 403, 403, 403, 401]),
  row('GET /openapi.json', () => ({ url: '/openapi.json' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs', () => ({ url: '/docs' }), [200, 200, 200, 200, 200, 200, 200]),
  // Swagger UI serves its page at /docs and redirects here.
  row('GET /docs/static/index.html', () => ({ url: '/docs/static/index.html' }), [302, 302, 302, 302, 302, 302, 302]),
  row('GET /docs/static/swagger-initializer.js', () => ({ url: '/docs/static/swagger-initializer.js' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/json', () => ({ url: '/docs/json' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/yaml', () => ({ url: '/docs/yaml' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /docs/static/*', () => ({ url: '/docs/static/swagger-ui.css' }), [200, 200, 200, 200, 200, 200, 200]),
  // the web UI (built into dist/ui by npm ci): public pages, their data comes from the API
  row('GET /', () => ({ url: '/' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /*', () => ({ url: '/inbox' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /favicon.svg', () => ({ url: '/favicon.svg' }), [200, 200, 200, 200, 200, 200, 200]),
  row('GET /assets/*', () => ({ url: `/assets/${UI_BUNDLE}` }), [200, 200, 200, 200, 200, 200, 200]),

  // keys
  row('GET /v1/me', () => ({ url: '/v1/me' }), [200, 200, 200, 200, 200, 200, 401]),
  row('POST /v1/api-keys', (f) => ({ url: '/v1/api-keys', body: { role: 'agent', user_id: `new-${f.tag}`, name: 'matrix' } }), [201, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('api_keys').select('id').where('user_id', '=', `new-${f.tag}`).execute()).length,
  }),
  row('DELETE /v1/api-keys/:id', (f) => ({ url: `/v1/api-keys/${f.keyId}` }), [204, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('api_keys').select('revoked_at').where('id', '=', f.keyId).executeTakeFirstOrThrow()).revoked_at,
  }),

  // sign-in and sessions: signing in is public; the current session is the cookie's (a key has none: 404)
  row('POST /v1/sessions', () => ({ url: '/v1/sessions', body: { username: signable.username, password: SIGNABLE_PASSWORD } }), [201, 201, 201, 201, 201, 201, 201], {
    written: async () => (await db().selectFrom('sessions').select('id_hash').where('user_id', '=', signable.id).execute()).length,
  }),
  row('GET /v1/sessions/current', () => ({ url: '/v1/sessions/current' }), [404, 404, 404, 404, 404, 404, 401]),
  row('DELETE /v1/sessions/current', () => ({ url: '/v1/sessions/current' }), [404, 404, 404, 404, 404, 404, 401]),

  // users: admins manage; supervisors read and set presence; agents read (colleagues as a card)
  row('GET /v1/users', () => ({ url: '/v1/users?limit=100' }), [200, 200, 200, 200, 200, 403, 401]),
  row('POST /v1/users', (f) => ({ url: '/v1/users', body: { username: `u-${f.tag}`, display_name: 'Matrix', role: 'agent' } }), [201, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('users').select('id').where('username', '=', `u-${f.tag}`).execute()).length,
  }),
  row('GET /v1/users/:id', (f) => ({ url: `/v1/users/${f.personId}` }), [200, 200, 200, 200, 200, 403, 401], {
    check: (res, f, who) => {
      expect(res.json().id, who).toBe(f.personId);
      if (who === 'owner' || who === 'team' || who === 'other') expect(res.json(), `${who} sees a directory card`).not.toHaveProperty('capacity');
      else expect(res.json(), who).toHaveProperty('capacity');
    },
  }),
  row('PATCH /v1/users/:id', (f) => ({ url: `/v1/users/${f.personId}`, body: { display_name: `Patched ${f.tag}` } }), [200, 403, 403, 403, 403, 403, 401], { written: personRow }),
  row('POST /v1/users/:id/presence', (f) => ({ url: `/v1/users/${f.personId}/presence`, body: { presence: 'available' } }), [200, 200, 403, 403, 403, 403, 401], { written: personRow }),
  row('POST /v1/users/:id/disable', (f) => ({ url: `/v1/users/${f.personId}/disable`, body: { reason: 'matrix' } }), [200, 403, 403, 403, 403, 403, 401], { written: personRow }),
  row('POST /v1/users/:id/enable', (f) => ({ url: `/v1/users/${f.personId}/enable` }), [200, 403, 403, 403, 403, 403, 401], {
    prepare: async (f) => void (await inject(actors.admin, 'POST', `/v1/users/${f.personId}/disable`, { reason: 'matrix' })),
    written: personRow,
  }),
  row('PUT /v1/users/:id/password', (f) => ({ url: `/v1/users/${f.personId}/password`, body: { password: 'matrix password 123' } }), [204, 403, 403, 403, 403, 403, 401], { written: personRow }),
  row('GET /v1/users/:id/journal', (f) => ({ url: `/v1/users/${f.personId}/journal` }), [200, 200, 403, 403, 403, 403, 401]),

  // catalog: any key
  row('GET /v1/templates', () => ({ url: '/v1/templates' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/templates/:key', () => ({ url: '/v1/templates/billing-dispute' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/fragments', () => ({ url: '/v1/fragments' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/fragments/:key', () => ({ url: '/v1/fragments/verify-identity' }), [200, 200, 200, 200, 200, 200, 401]),

  // the learning loop: process owners (supervisors, admins) draft and publish template versions;
  // exports for them and integrators; recommendations for whoever may see the case
  row('POST /v1/templates/:key/drafts', () => ({ url: '/v1/templates/billing-dispute/drafts', body: {} }), [201, 201, 403, 403, 403, 403, 401], {
    written: async () => (await db().selectFrom('template_drafts').select('id').where('template_key', '=', 'billing-dispute').execute()).length,
  }),
  row('GET /v1/templates/:key/drafts', () => ({ url: '/v1/templates/billing-dispute/drafts' }), [200, 200, 403, 403, 403, 403, 401]),
  row('GET /v1/template-drafts/:id', (f) => ({ url: `/v1/template-drafts/${draftOf.get(f.tag)}` }), [200, 200, 403, 403, 403, 403, 401], { prepare: (f) => draftFor(f) }),
  row('PATCH /v1/template-drafts/:id', (f) => ({ url: `/v1/template-drafts/${draftOf.get(f.tag)}`, body: { template: { title: `Patched ${f.tag}` } }, headers: { 'if-match': '"v1"' } }), [200, 200, 403, 403, 403, 403, 401], {
    prepare: (f) => draftFor(f),
    written: draftRow,
  }),
  row('DELETE /v1/template-drafts/:id', (f) => ({ url: `/v1/template-drafts/${draftOf.get(f.tag)}` }), [200, 200, 403, 403, 403, 403, 401], {
    prepare: (f) => draftFor(f),
    written: draftRow,
  }),
  row('GET /v1/template-drafts/:id/diff', (f) => ({ url: `/v1/template-drafts/${draftOf.get(f.tag)}/diff` }), [200, 200, 403, 403, 403, 403, 401], { prepare: (f) => draftFor(f) }),
  row('POST /v1/template-drafts/:id/publish', (f) => ({ url: `/v1/template-drafts/${draftOf.get(f.tag)}/publish`, body: {} }), [200, 200, 403, 403, 403, 403, 401], {
    prepare: async (f) => draftFor(f, await privateTemplate(f)),
    written: draftRow,
  }),
  row('GET /v1/templates/:key/versions', () => ({ url: '/v1/templates/billing-dispute/versions' }), [200, 200, 200, 200, 200, 200, 401]),
  row('GET /v1/templates/:key/versions/:version/export', () => ({ url: '/v1/templates/billing-dispute/versions/1/export' }), [200, 200, 403, 403, 403, 200, 401]),
  row('GET /v1/fragments/:key/versions/:version/export', () => ({ url: '/v1/fragments/verify-identity/versions/1/export' }), [200, 200, 403, 403, 403, 200, 401]),
  row('GET /v1/cases/:id/recommendations', (f) => ({ url: `/v1/cases/${f.case.id}/recommendations` }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/cases/:id/recommendations/:recommendation/feedback', (f) => ({ url: `/v1/cases/${f.case.id}/recommendations/refund-approval@1/feedback`, body: { decision: 'dismissed' } }), [201, 201, 201, 201, 404, 403, 401], {
    written: async (f) => (await db().selectFrom('recommendation_feedback').select('id').where('case_id', '=', f.case.id).execute()).length,
  }),
  row('GET /v1/reports/recommendations', () => ({ url: '/v1/reports/recommendations' }), [200, 200, 403, 403, 403, 403, 401]),

  // cases
  row('POST /v1/cases', (f) => ({ url: '/v1/cases', body: { template: 'billing-dispute', title: `New ${f.tag}` } }), [201, 201, 201, 201, 201, 403, 401], {
    written: async (f) => (await db().selectFrom('cases').select('id').where('title', '=', `New ${f.tag}`).execute()).length,
  }),
  row('GET /v1/cases', () => ({ url: `/v1/cases?queue=${TEAM}&limit=100` }), [200, 200, 200, 200, 200, 403, 401], { check: listShows((f) => f.case.id) }),
  row('GET /v1/cases/:id', (f) => ({ url: `/v1/cases/${f.case.id}` }), [200, 200, 200, 200, 404, 403, 401], {
    check: (res, f, who) => expect(res.json().id, who).toBe(f.case.id),
  }),
  row('GET /v1/cases/:id/timeline', (f) => ({ url: `/v1/cases/${f.case.id}/timeline` }), [200, 200, 200, 200, 404, 403, 401]),
  row('GET /v1/cases/:id/plan', (f) => ({ url: `/v1/cases/${f.case.id}/plan?at=1` }), [200, 200, 200, 200, 404, 403, 401]),
  row('GET /v1/cases/:id/conformance', (f) => ({ url: `/v1/cases/${f.case.id}/conformance` }), [200, 200, 200, 200, 404, 403, 401]),
  row('GET /v1/cases/:id/content', (f) => ({ url: `/v1/cases/${f.case.id}/content` }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/cases/:id/events', (f) => ({ url: `/v1/cases/${f.case.id}/events`, body: { type: 'BILLING_RECORDS_RECEIVED', data: { records: [] } } }), [200, 200, 200, 200, 404, 200, 401]),
  row('POST /v1/cases/:id/content', (f) => ({ url: `/v1/cases/${f.case.id}/content`, body: { kind: 'note', data: { text: 'matrix' } } }), [201, 201, 201, 201, 404, 201, 401]),
  row('GET /v1/cases/:id/content/:content_id/revisions', (f) => ({ url: `/v1/cases/${f.case.id}/content/${postOf.get(f.case.id)}/revisions` }), [200, 200, 200, 200, 404, 403, 401], {
    prepare: async (f) => {
      const res = api.expectStatus(await api.call(actors.supervisor, 'POST', `/v1/cases/${f.case.id}/content`, { kind: 'social_post', data: { channel: 'x', post_id: `m-${f.tag}`, reach: 10 } }), 201);
      postOf.set(f.case.id, res.json().content.id);
    },
  }),
  row('POST /v1/cases/:id/priority', (f) => ({ url: `/v1/cases/${f.case.id}/priority`, body: { priority: 'high', reason: 'matrix' } }), [200, 200, 403, 403, 403, 403, 401]),
  row('DELETE /v1/cases/:id/priority', (f) => ({ url: `/v1/cases/${f.case.id}/priority`, body: { reason: 'matrix' } }), [200, 200, 403, 403, 403, 403, 401], {
    prepare: async (f) => void api.expectStatus(await api.call(actors.supervisor, 'POST', `/v1/cases/${f.case.id}/priority`, { priority: 'high', reason: 'matrix' }), 200),
  }),
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
  // Approvals hold: the event the verify-identity task owns, through the generic events route,
  // comes only from someone who may complete that task (the owner, a supervisor); the team
  // agent who does not hold it and the integrator get 409 TASK_OWNS_EVENT.
  row('POST /v1/cases/:id/events', (f) => ({ url: `/v1/cases/${f.case.id}/events`, body: { type: 'IDENTITY_CHECKED', data: { method: 'id_document', passed: true } } }), [200, 200, 200, 409, 404, 409, 401], {
    check: (res, f, who) => expect((res.json().tasks as { id: string }[]).map((x) => x.id), who).not.toContain(f.task.id),
  }),
  // Next work: any person; the team agent (available, TEAM) gets a task, the others have no
  // team with work and get task null. Integrators are not people.
  row('POST /v1/tasks/next', () => ({ url: '/v1/tasks/next' }), [200, 200, 200, 200, 200, 403, 401], {
    mayWriteNothing: 'only a caller whose teams hold a task they may take gets one (here: the team agent)',
    check: (res, _f, who) => {
      if (who === 'team') expect(res.json().task, who).toMatchObject({ assignee_id: actors.team.userId });
      else expect(res.json(), who).toMatchObject({ task: null });
    },
  }),
  row('POST /v1/tasks/:id/assign', (f) => ({ url: `/v1/tasks/${f.task.id}/assign`, body: { user_id: actors.team.userId } }), [200, 200, 403, 403, 403, 403, 401], {
    check: (res, f, who) => expect(res.json().task, who).toMatchObject({ id: f.task.id, assignee_id: actors.team.userId }),
  }),
  row('GET /v1/workload', () => ({ url: '/v1/workload' }), [200, 200, 403, 403, 403, 403, 401], {
    check: (res, _f, who) => expect((res.json().queues as { queue: string }[]).map((q) => q.queue), who).toContain(TEAM),
  }),

  // supervisor views: supervisors and admins
  row('GET /v1/goals', () => ({ url: `/v1/goals?queue=${TEAM}&limit=100` }), [200, 200, 403, 403, 403, 403, 401], { check: goalsShow }),
  row('GET /v1/goals/due', () => ({ url: `/v1/goals/due?within_hours=24&queue=${TEAM}&limit=100` }), [200, 200, 403, 403, 403, 403, 401], { check: goalsShow }),
  row('GET /v1/reports/sla-attainment', () => {
    const now = Date.now();
    return { url: `/v1/reports/sla-attainment?from=${new Date(now - 86_400_000).toISOString()}&to=${new Date(now + 86_400_000).toISOString()}&queue=${TEAM}` };
  }, [200, 200, 403, 403, 403, 403, 401]),
  // supervisor console: tiles, bulk reassign, reach alerts
  row('GET /v1/goals/summary', () => ({ url: `/v1/goals/summary?queue=${TEAM}` }), [200, 200, 403, 403, 403, 403, 401]),
  row('POST /v1/cases/bulk-reassign', (f) => ({ url: '/v1/cases/bulk-reassign', body: { case_ids: [f.case.id], queue: TEAM, reason: 'matrix' } }), [200, 200, 403, 403, 403, 403, 401], {
    check: (res, f, who) => expect(res.json().items, who).toEqual([expect.objectContaining({ case_id: f.case.id, status: 200 })]),
  }),
  row('GET /v1/alerts/reach', () => ({ url: `/v1/alerts/reach?queue=${TEAM}` }), [200, 200, 403, 403, 403, 403, 401]),
  // diagrams: people (the case's one with the case's visibility)
  row('GET /v1/fragments/:key/versions/:version/diagram', () => ({ url: '/v1/fragments/verify-identity/versions/1/diagram' }), [200, 200, 200, 200, 200, 403, 401]),
  row('GET /v1/cases/:id/fragments/:fid/diagram', (f) => ({ url: `/v1/cases/${f.case.id}/fragments/${f.fragmentId}/diagram` }), [200, 200, 200, 200, 404, 403, 401]),
  row('GET /v1/reports/conformance', () => ({ url: '/v1/reports/conformance?template=billing-dispute&from=2099-01-01T00:00:00Z' }), [200, 200, 403, 403, 403, 403, 401]),

  // outbound webhooks: the event catalog for any key; subscriptions and deliveries for admins and
  // integrators (an integrator only its own: the fixture's subscription is the integrator's)
  row('GET /v1/event-types', () => ({ url: '/v1/event-types' }), [200, 200, 200, 200, 200, 200, 401]),
  row('POST /v1/webhook-subscriptions', (f) => ({ url: '/v1/webhook-subscriptions', body: { url: `${HOOKS}/${f.tag}/new`, event_types: ['case.opened'], enabled: false } }), [201, 403, 403, 403, 403, 201, 401], {
    written: async (f) => (await db().selectFrom('webhook_subscriptions').select('id').where('url', '=', `${HOOKS}/${f.tag}/new`).execute()).length,
  }),
  row('GET /v1/webhook-subscriptions', () => ({ url: '/v1/webhook-subscriptions?limit=100' }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, _f, who) => {
      const items = res.json().items as { created_by: string }[];
      expect(items.length, who).toBeGreaterThan(0);
      if (who === 'integrator') expect(items.every((s) => s.created_by === actors.integrator.userId), 'an integrator lists only its own').toBe(true);
    },
  }),
  row('GET /v1/webhook-subscriptions/:id', (f) => ({ url: `/v1/webhook-subscriptions/${f.subscriptionId}` }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, f, who) => {
      expect(res.json().id, who).toBe(f.subscriptionId);
      expect(res.json(), who).not.toHaveProperty('secret');
    },
  }),
  row('PATCH /v1/webhook-subscriptions/:id', (f) => ({ url: `/v1/webhook-subscriptions/${f.subscriptionId}`, body: { description: `patched ${f.tag}` } }), [200, 403, 403, 403, 403, 200, 401], {
    written: subscriptionRow,
  }),
  row('DELETE /v1/webhook-subscriptions/:id', (f) => ({ url: `/v1/webhook-subscriptions/${f.subscriptionId}` }), [204, 403, 403, 403, 403, 204, 401], {
    written: subscriptionRow,
  }),
  row('POST /v1/webhook-subscriptions/:id/rotate-secret', (f) => ({ url: `/v1/webhook-subscriptions/${f.subscriptionId}/rotate-secret`, body: { expire_previous_in_seconds: 60 } }), [200, 403, 403, 403, 403, 200, 401], {
    written: subscriptionRow,
  }),
  row('POST /v1/webhook-subscriptions/:id/replay', (f) => ({
    url: `/v1/webhook-subscriptions/${f.subscriptionId}/replay`,
    body: { from: f.eventAt.toISOString(), to: new Date(f.eventAt.getTime() + 1).toISOString() },
  }), [202, 403, 403, 403, 403, 202, 401], { written: deliveryRow }),
  row('GET /v1/webhook-deliveries', (f) => ({ url: `/v1/webhook-deliveries?subscription_id=${f.subscriptionId}` }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, f, who) => expect(ids(res), who).toEqual([f.deliveryId]),
  }),
  row('GET /v1/webhook-deliveries/:id', (f) => ({ url: `/v1/webhook-deliveries/${f.deliveryId}` }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, f, who) => expect(res.json().id, who).toBe(f.deliveryId),
  }),
  row('POST /v1/webhook-deliveries/:id/replay', (f) => ({ url: `/v1/webhook-deliveries/${f.deliveryId}/replay` }), [202, 403, 403, 403, 403, 202, 401], {
    written: deliveryRow,
  }),

  // inbound sources: admins manage, integrators read
  row('POST /v1/inbound-sources', (f) => ({ url: '/v1/inbound-sources', body: { key: `${f.source.key}-new`, mapping: PING_MAPPING } }), [201, 403, 403, 403, 403, 403, 401], {
    written: async (f) => (await db().selectFrom('inbound_sources').select('key').where('key', '=', `${f.source.key}-new`).execute()).length,
  }),
  row('GET /v1/inbound-sources', () => ({ url: '/v1/inbound-sources' }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, f, who) => {
      expect((res.json().items as { key: string }[]).map((s) => s.key), who).toContain(f.source.key);
      expect(res.body, who).not.toContain(f.source.secret);
    },
  }),
  row('GET /v1/inbound-sources/:key', (f) => ({ url: `/v1/inbound-sources/${f.source.key}` }), [200, 403, 403, 403, 403, 200, 401], {
    check: (res, f, who) => {
      expect(res.json().key, who).toBe(f.source.key);
      expect(res.body, who).not.toContain(f.source.secret);
    },
  }),
  row('PATCH /v1/inbound-sources/:key', (f) => ({ url: `/v1/inbound-sources/${f.source.key}`, body: { description: `patched ${f.tag}` } }), [200, 403, 403, 403, 403, 403, 401], {
    written: sourceRow,
  }),
  row('DELETE /v1/inbound-sources/:key', (f) => ({ url: `/v1/inbound-sources/${f.source.key}` }), [204, 403, 403, 403, 403, 403, 401], { written: sourceRow }),
  row('POST /v1/inbound-sources/:key/secrets', (f) => ({ url: `/v1/inbound-sources/${f.source.key}/secrets`, body: { previous_expire_in_seconds: 3600 } }), [201, 403, 403, 403, 403, 403, 401], {
    written: sourceRow,
  }),
  row('DELETE /v1/inbound-sources/:key/secrets/:secret_id', (f) => ({ url: `/v1/inbound-sources/${f.source.key}/secrets/${f.source.secretId}` }), [200, 403, 403, 403, 403, 403, 401], {
    // The last active secret is never removed: rotate first, then the first one may go.
    prepare: async (f) => void (await inject(actors.admin, 'POST', `/v1/inbound-sources/${f.source.key}/secrets`, {})),
    written: sourceRow,
  }),

  // inbound webhooks: the signature is the credential, whoever sends it (an API key is ignored)
  row('POST /v1/inbound/:source', signedInbound, [202, 202, 202, 202, 202, 202, 202], {
    openBody: 'the payload is the sender\'s own JSON, authenticated by its signature; the mapping decides what is read',
    written: async (f) => db().selectFrom('inbox').select(['id', 'status']).where('source', '=', f.source.key).where('webhook_id', '=', `msg_${f.tag}`).execute(),
    // Stored, matching no rule: nothing is queued.
    check: (res, _f, who) => expect(res.json().status, who).toBe('unmatched'),
  }),

  // the inbox: admins, supervisors and integrators
  // Customers: agents read the customers of cases they may see; supervisors, admins and integrators write.
  row('GET /v1/customers', (f) => ({ url: `/v1/customers?email=${f.customer.email}` }), [200, 200, 200, 200, 200, 403, 401], { check: listShows((f) => f.customer.id) }),
  row('GET /v1/customers/:id', (f) => ({ url: `/v1/customers/${f.customer.id}` }), [200, 200, 200, 200, 404, 403, 401]),
  row('POST /v1/customers', (f) => ({ url: '/v1/customers', body: { name: 'New', external_ids: { matrix: `new-${f.tag}` } } }), [201, 201, 403, 403, 403, 201, 401], {
    written: (f) => db().selectFrom('customer_external_ids').selectAll().where('system', '=', 'matrix').where('external_id', '=', `new-${f.tag}`).executeTakeFirst(),
  }),
  row('PATCH /v1/customers/:id', (f) => ({ url: `/v1/customers/${f.customer.id}`, body: { segment: 'gold', reason: 'matrix' } }), [200, 200, 403, 403, 403, 200, 401], {
    written: (f) => customerRow(f),
  }),
  row('POST /v1/customers/:id/identities', (f) => ({ url: `/v1/customers/${f.customer.id}/identities`, body: { kind: 'handle', channel: 'x', value: `@${f.tag}` } }), [200, 200, 403, 403, 403, 200, 401], {
    written: (f) => customerRow(f),
  }),
  row('DELETE /v1/customers/:id/identities/:identity_id', (f) => ({ url: `/v1/customers/${f.customer.id}/identities/${f.customer.identityId}` }), [200, 200, 403, 403, 403, 200, 401], {
    written: (f) => customerRow(f),
  }),
  row('POST /v1/customers/:id/activity', (f) => ({ url: `/v1/customers/${f.customer.id}/activity`, body: { kind: 'purchase', at: '2026-01-01T00:00:00Z', amount: 10 } }), [201, 201, 403, 403, 403, 201, 401], {
    written: (f) => customerRow(f),
  }),
  // privacy: export for supervisors and admins, erasure for admins only
  row('GET /v1/customers/:id/export', (f) => ({ url: `/v1/customers/${f.customer.id}/export` }), [200, 200, 403, 403, 403, 403, 401]),
  row('POST /v1/customers/:id/erase', (f) => ({ url: `/v1/customers/${f.customer.id}/erase`, body: { basis: 'consent_withdrawn', reason: 'matrix' } }), [200, 403, 403, 403, 403, 403, 401], {
    written: (f) => db().selectFrom('erasures').select(['id', 'status']).where('customer_id', '=', f.customer.id).execute(),
  }),
  row('POST /v1/customers/:id/merge', (f) => ({ url: `/v1/customers/${f.customer.id}/merge`, body: { from: f.customer.mergeFromId, reason: 'matrix' } }), [200, 200, 403, 403, 403, 200, 401], {
    written: (f) => customerRow(f),
  }),
  row('GET /v1/inbox', (f) => ({ url: `/v1/inbox?source=${f.source.key}` }), [200, 200, 403, 403, 403, 200, 401], {
    check: (res, f, who) => expect(ids(res), who).toEqual([f.inboxId]),
  }),
  row('GET /v1/inbox/:id', (f) => ({ url: `/v1/inbox/${f.inboxId}` }), [200, 200, 403, 403, 403, 200, 401], {
    check: (res, f, who) => expect(res.json().id, who).toBe(f.inboxId),
  }),
  row('POST /v1/inbox/:id/retry', (f) => ({ url: `/v1/inbox/${f.inboxId}/retry` }), [202, 202, 403, 403, 403, 202, 401], {
    written: async (f) => db().selectFrom('inbox').select(['status', 'correlation_key']).where('id', '=', f.inboxId).executeTakeFirst(),
  }),
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
    customer: { id: `cust-${tag}`, email: `${tag}@matrix.example` },
  });
  const fragmentId = fragmentOf(opened, 'verify-identity').id;
  const task = taskOf(opened, fragmentId, 'verifying');
  await api.reassignTask(actors.supervisor, task.id, { assignment: { queue: TEAM } });
  const c = await api.get(actors.supervisor, opened.id);
  const key = await createApiKeyStore(db()).create({ role: 'agent', userId: `revokable-${tag}`, name: 'matrix' });
  const personId = `person-${tag}`;
  await createUserStore(db()).insert(
    decideUser(undefined, { type: 'create', user: { id: personId, username: personId, displayName: 'Matrix person', role: 'agent' } }, { actor: { id: 'matrix', role: 'admin' }, now: new Date() }),
  );
  const customer = await inject(actors.supervisor, 'GET', `/v1/customers/cust-${tag}`);
  const mergeFrom = await inject(actors.supervisor, 'POST', '/v1/customers', { name: 'Duplicate', external_ids: { matrix: `dup-${tag}` } });
  return {
    case: c,
    task: taskOf(c, fragmentId, 'verifying'),
    fragmentId,
    keyId: key.keyId,
    tag,
    personId,
    customer: { id: customer.id, email: `${tag}@matrix.example`, identityId: customer.identities[0].id, mergeFromId: mergeFrom.id },
    ...(await webhookFixture(c.id, tag)),
  };
}

async function inject(as: Actor, method: 'GET' | 'POST', url: string, body?: Record<string, unknown>) {
  const res = await t.app.inject({ method, url, headers: as.headers, ...(body ? { payload: body } : {}) });
  expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 300)}`).toBeLessThan(300);
  return res.json();
}

/** The outbound and inbound webhook state of a fixture. */
async function webhookFixture(caseId: string, tag: string) {
  const subscription = await inject(actors.integrator, 'POST', '/v1/webhook-subscriptions', { url: `${HOOKS}/${tag}`, event_types: ['case.opened'], enabled: false });
  const event = await db().selectFrom('outbox').select(['id', 'occurred_at']).where('case_id', '=', caseId).where('type', '=', 'case.opened').executeTakeFirstOrThrow();
  const deliveryId = newWebhookId('msg');
  await db()
    .insertInto('webhook_deliveries')
    .values({ id: deliveryId, outbox_id: event.id, subscription_id: subscription.id, event_type: 'case.opened', status: 'dead', attempts: 1, last_error: 'matrix' })
    .execute();

  const key = `${SOURCES}-${tag}`;
  const created = await inject(actors.admin, 'POST', '/v1/inbound-sources', { key, mapping: PING_MAPPING });
  // As if it came in before the mapping knew it: stored unmatched (and so never queued).
  const payload = { type: 'matrix.ping', data: { id: tag } };
  const accepted = await acceptInboxMessage(db(), {
    id: randomUUID(),
    source: key,
    webhookId: `msg_early_${tag}`,
    bodyHash: createHash('sha256').update(JSON.stringify(payload)).digest('hex'),
    payload,
    sentAt: new Date(),
    correlationKey: null,
  });
  return {
    subscriptionId: subscription.id as string,
    deliveryId,
    eventAt: new Date(event.occurred_at),
    source: { key, secret: created.secret.secret as string, secretId: created.secret.id as string },
    inboxId: accepted.id,
  };
}

function send(who: Who, r: Row, req: Request, extraBody?: Record<string, unknown>, credential?: Record<string, string>) {
  const [method] = r.route.split(' ') as ['GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'];
  const body = extraBody ? { ...(req.body ?? {}), ...extraBody } : req.body;
  return t.app.inject({
    method,
    url: req.url,
    headers: {
      ...(credential ?? (who === 'anonymous' ? {} : actors[who].headers)),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...req.headers,
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

/** Everything a request could have changed: the fixture case's rows, and the row's own probe. */
async function reading(r: Row, f: Fixture) {
  return { case: await rows.snapshot(f.case.id), written: await r.written?.(f) };
}

beforeAll(async () => {
  // Subscription URLs are loopback, so allowlisted here. No worker runs in this file; a replay's
  // job picked up by another file's worker (no allowlist) is refused by its SSRF guard unsent.
  t = await startTestApp({ config: { TESSERA_WEBHOOK_ALLOWLIST: '127.0.0.1' } });
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
  // The team agent takes work (next work, pushes) with room for every fixture's task.
  await updateWorker(d, actors.team.userId, { presence: 'available', capacity: { default: 500 } });
  shared = await freshFixture();
  signable = { id: uniqueId('signable'), username: '' };
  signable.username = signable.id;
  await createUserStore(d).insert(
    decideUser(undefined, { type: 'create', user: { id: signable.id, username: signable.id, displayName: 'Signable', role: 'agent' }, passwordHash: await hashPassword(SIGNABLE_PASSWORD) }, { actor: { id: 'matrix', role: 'admin' }, now: new Date() }),
  );
});
afterAll(async () => {
  // Subscriptions and sources are global: leave none of this run's behind.
  await db().deleteFrom('webhook_subscriptions').where('url', 'like', `${HOOKS}/%`).execute();
  await db().deleteFrom('inbox').where('source', 'like', `${SOURCES}-%`).execute();
  await db().deleteFrom('inbound_sources').where('key', 'like', `${SOURCES}-%`).execute();
  await t.close();
});

/**
 * Routes whose callers are checked in their own test, with the reason they cannot be a row:
 * an event stream never ends, so `inject` cannot hold one open and read its status.
 */
const COVERED_ELSEWHERE: Record<string, string> = {
  'GET /v1/stream': 'test/live/live-stream.test.ts: 401 without a valid credential, 403 for an integrator and for tiles or a queue outside the caller\'s teams, no event of another team\'s case',
  'PUT /v1/stream/:stream_id/subscriptions': 'test/live/live-stream.test.ts: the same rules, checked on a subscription change',
};

describe('the authorization matrix', () => {
  it('every route of the app has a row, and every row a route', () => {
    // HEAD routes are Fastify's automatic twins of GET routes: same hooks, same answer.
    const served = [...new Set(t.app.routeTable.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`))].sort();
    const covered = [...ROWS.map((r) => r.route), ...Object.keys(COVERED_ELSEWHERE)].sort();
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
          if (ok(expected) && !r.mayWriteNothing) expect(after, `${who}: ${r.route} must write something`).not.toEqual(before);
          else expect(after, `${who}: ${r.route} was refused and must write nothing`).toEqual(before);
        }
      }
    });
  }
});

describe('a browser session authorizes exactly as an API key of the same user', () => {
  // The supervisor and the team agent sign in (their users were created with their keys); every
  // route then answers their session cookie (with the CSRF token, from this origin) as it
  // answers their key. The session routes themselves are tested in test/http/sessions.test.ts.
  const TWINS = ['supervisor', 'team'] as const;
  const cookies: Partial<Record<(typeof TWINS)[number], Record<string, string>>> = {};
  beforeAll(async () => {
    for (const who of TWINS) {
      const users = createUserStore(db());
      const user = (await users.find(actors[who].userId))!;
      await users.save(decideUser(user, { type: 'set_password', passwordHash: await hashPassword(SIGNABLE_PASSWORD) }, { actor: { id: 'matrix', role: 'admin' }, now: new Date() }));
      const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: SIGNABLE_PASSWORD } });
      expect(res.statusCode, res.body).toBe(201);
      cookies[who] = { cookie: String(res.headers['set-cookie']).split(';')[0]!, 'x-csrf-token': res.json().csrf_token, origin: 'http://localhost' };
    }
  });

  // /metrics takes a bearer token only (a scraper has no browser session): a cookie alone is a 401 there.
  for (const r of ROWS.filter((x) => !x.route.includes('/v1/sessions') && x.route !== 'GET /metrics')) {
    it(`${r.route}: ${TWINS.map((w) => `${w} ${r.expect[w]}`).join(', ')}`, async () => {
      // Reads get a fixture of their own too: by now the lists hold the matrix's many fixtures,
      // and the newest is on their first page.
      let readFixture: Fixture | undefined;
      for (const who of TWINS) {
        const expected = r.expect[who];
        const own = (isWrite(r) && ok(expected)) || r.prepare !== undefined;
        const f = own ? await freshFixture() : (readFixture ??= await freshFixture());
        await r.prepare?.(f);
        const before = isWrite(r) ? await reading(r, f) : undefined;
        const res = await send(who, r, r.request(f), undefined, cookies[who]);
        expect(res.statusCode, `${who} (session): ${r.route} -> ${res.body.slice(0, 300)}`).toBe(expected);
        // Goal lists are ordered by deadline, so the newest fixture is on their last page by now:
        // their contents were checked in the matrix above; here the status is the point.
        if (ok(expected) && !r.route.startsWith('GET /v1/goals')) r.check?.(res, f, who);
        if (before) {
          const after = await reading(r, f);
          if (ok(expected) && !r.mayWriteNothing) expect(after, `${who} (session): ${r.route} must write something`).not.toEqual(before);
          else expect(after, `${who} (session): ${r.route} was refused and must write nothing`).toEqual(before);
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
