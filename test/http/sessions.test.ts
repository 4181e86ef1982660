/**
 * Browser sign-in on real Postgres and Redis: a session authorizes exactly as an API key of the
 * same user does; cookie-authenticated writes need the CSRF token and this origin; idle,
 * absolute, signed-out and revoked sessions are refused; failed sign-ins are limited and
 * logged without the password.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/platform/logger.js';
import { hashSessionId } from '../../src/persistence/session-store.js';
import { createActor } from '../support/actors.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

const PASSWORD = 'correct horse battery staple';
const ORIGIN = 'http://localhost';

let t: Awaited<ReturnType<typeof startTestApp>>;
const logLines: Record<string, unknown>[] = [];
const rawLog: string[] = [];

beforeAll(async () => {
  // The app's real logger options (redaction included), captured.
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        rawLog.push(line);
        logLines.push(JSON.parse(line));
      }
      done();
    },
  });
  t = await startTestApp({
    logger: pino(loggerOptions('info'), sink),
    config: { TESSERA_SIGNIN_MAX_FAILURES: '3', TESSERA_SIGNIN_MAX_FAILURES_PER_IP: '6', TESSERA_REDIS_PREFIX: `${uniqueId('signin')}` },
  });
});
afterAll(() => t.close());

const db = () => t.database.db;

async function createUser(role: 'agent' | 'supervisor' | 'admin', extra: Record<string, unknown> = {}) {
  const username = uniqueId(role);
  const res = await t.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(ADMIN_KEY), payload: { username, display_name: `Test ${role}`, role, password: PASSWORD, ...extra } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; username: string; version: number };
}

interface Browser {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: { user: { id: string }; csrf_token: string; expires_at: string; idle_expires_at: string };
}

async function signIn(username: string, password = PASSWORD, headers: Record<string, string> = {}): Promise<Browser> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username, password }, headers: { origin: ORIGIN, ...headers } });
  expect(res.statusCode, res.body).toBe(201);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0]!;
  return { cookie, csrf: res.json().csrf_token, setCookie, body: res.json() };
}

/** A same-origin browser request with the session cookie and its CSRF token. */
function asBrowser(b: Browser, extra: Record<string, string> = {}) {
  return { cookie: b.cookie, 'x-csrf-token': b.csrf, origin: ORIGIN, ...extra };
}

const sessionRow = (b: Browser) => db().selectFrom('sessions').selectAll().where('id_hash', '=', hashSessionId(b.cookie.split('=')[1]!)).executeTakeFirstOrThrow();

describe('sign-in', () => {
  it('sets an httpOnly, SameSite cookie with 32 random bytes, stores only its SHA-256, and returns the user and a CSRF token', async () => {
    const user = await createUser('agent');
    const b = await signIn(user.username);
    expect(b.setCookie).toMatch(/^tessera_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    // Plain http to a loopback host (dev): no Secure flag; any other host gets it.
    expect(b.setCookie).not.toContain('Secure');
    expect(b.body.user).toMatchObject({ id: user.id, role: 'agent' });
    expect(b.body.user).not.toHaveProperty('password_hash');
    expect(b.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = b.cookie.split('=')[1]!;
    const row = await sessionRow(b);
    expect(row.user_id).toBe(user.id);
    expect(row.id_hash).not.toBe(token);
    expect(JSON.stringify(await db().selectFrom('sessions').selectAll().where('user_id', '=', user.id).execute())).not.toContain(token);
    expect(new Date(b.body.expires_at).getTime() - row.created_at.getTime()).toBe(12 * 3600_000);
    expect(new Date(b.body.idle_expires_at).getTime() - row.created_at.getTime()).toBe(30 * 60_000);

    const current = await t.app.inject({ method: 'GET', url: '/v1/sessions/current', headers: { cookie: b.cookie } });
    expect(current.statusCode).toBe(200);
    expect(current.json()).toMatchObject({ user: { id: user.id }, csrf_token: b.csrf });
  });

  it('marks the cookie Secure when the host is not loopback', async () => {
    const user = await createUser('agent');
    const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, headers: { host: 'tessera.example.com', origin: 'https://tessera.example.com' } });
    expect(res.statusCode).toBe(201);
    expect(String(res.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  it('answers the same 401 for an unknown user, a wrong password and a disabled user, and takes about as long', async () => {
    const user = await createUser('agent');
    const other = await createUser('agent');
    await t.app.inject({ method: 'POST', url: `/v1/users/${other.id}/disable`, headers: bearer(ADMIN_KEY), payload: { reason: 'left' } });
    const attempt = async (username: string, password: string) => {
      const started = performance.now();
      const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username, password }, remoteAddress: `10.3.0.${Math.floor(Math.random() * 250) + 1}` });
      return { res, ms: performance.now() - started };
    };
    const unknown = await attempt(uniqueId('nobody'), PASSWORD);
    const wrong = await attempt(user.username, 'not the password at all');
    const disabled = await attempt(other.username, PASSWORD);
    for (const { res } of [unknown, wrong, disabled]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'SIGN_IN_FAILED', detail: 'Unknown username or wrong password; check both and try again' });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // Each path computes one scrypt hash: neither is a fast path (the bound is loose because
    // the machine is shared; an unhashed path would take well under a millisecond).
    expect(unknown.ms).toBeGreaterThan(wrong.ms / 4);
    expect(wrong.ms).toBeGreaterThan(unknown.ms / 4);
    expect(await db().selectFrom('sessions').select('id_hash').where('user_id', 'in', [user.id, other.id]).execute()).toEqual([]);
  });

  it('limits failed attempts per username (then 429 with Retry-After, even with the right password) and logs them without the password', async () => {
    const user = await createUser('agent');
    const secretGuess = `guess-${uniqueId('pw')}`;
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: secretGuess }, remoteAddress: `10.1.0.${i + 1}` });
      expect(res.statusCode).toBe(401);
    }
    const blocked = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, remoteAddress: '10.1.0.9' });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().code).toBe('RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await db().selectFrom('sessions').select('id_hash').where('user_id', '=', user.id).execute()).toEqual([]);

    const failures = logLines.filter((l) => l.event === 'sign_in_failed' && l.username === user.username);
    expect(failures.map((l) => l.why)).toEqual(['wrong_password', 'wrong_password', 'wrong_password', 'throttled']);
    expect(failures.every((l) => l.level === 40 && typeof l.ip === 'string')).toBe(true);
    expect(rawLog.some((line) => line.includes(secretGuess))).toBe(false);
    expect(rawLog.some((line) => line.includes(PASSWORD))).toBe(false);
  });

  it('limits failed attempts per client address across usernames', async () => {
    const ip = '10.2.0.7';
    for (let i = 0; i < 6; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: uniqueId('spray'), password: 'wrong wrong wrong' }, remoteAddress: ip });
      expect(res.statusCode).toBe(401);
    }
    const user = await createUser('agent');
    const blocked = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, remoteAddress: ip });
    expect(blocked.statusCode).toBe(429);
    // Another address is not affected.
    const elsewhere = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, remoteAddress: '10.2.0.8' });
    expect(elsewhere.statusCode).toBe(201);
  });

  it('refuses a sign-in posted from another site (login CSRF)', async () => {
    const user = await createUser('agent');
    const res = await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('CSRF_REFUSED');
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('a session authorizes exactly as an API key of the same user', () => {
  it('agent: same answers on reads and writes, allowed and forbidden', async () => {
    const team = uniqueId('team');
    const user = await createUser('agent', { teams: [team] });
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(ADMIN_KEY), payload: { role: 'agent', user_id: user.id, name: 'desk' } });
    expect(key.statusCode, key.body).toBe(201);
    const keyHeaders = bearer(key.json().key);
    const b = await signIn(user.username);

    const me = [await t.app.inject({ method: 'GET', url: '/v1/me', headers: keyHeaders }), await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: b.cookie } })];
    expect(me.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(me[1]!.json()).toMatchObject({ user_id: user.id, role: 'agent', teams: [team] });
    expect(me[0]!.json()).toMatchObject({ user_id: user.id, role: 'agent', teams: [team] });

    const probes: { method: 'GET' | 'POST'; url: string; payload?: Record<string, unknown>; expected: number }[] = [
      { method: 'GET', url: `/v1/cases?queue=${team}`, expected: 200 },
      { method: 'GET', url: '/v1/goals', expected: 403 },
      { method: 'GET', url: '/v1/webhook-subscriptions', expected: 403 },
      { method: 'POST', url: '/v1/api-keys', payload: { role: 'agent', user_id: uniqueId('x'), name: 'no' }, expected: 403 },
      { method: 'GET', url: '/v1/users', expected: 200 },
      { method: 'POST', url: '/v1/cases', payload: { template: 'billing-dispute', title: `Session ${user.id}` }, expected: 201 },
    ];
    for (const probe of probes) {
      const viaKey = await t.app.inject({ method: probe.method, url: probe.url, headers: keyHeaders, ...(probe.payload ? { payload: probe.payload } : {}) });
      const viaSession = await t.app.inject({ method: probe.method, url: probe.url, headers: asBrowser(b), ...(probe.payload ? { payload: probe.payload } : {}) });
      expect([viaKey.statusCode, viaSession.statusCode], `${probe.method} ${probe.url}`).toEqual([probe.expected, probe.expected]);
      if (probe.expected === 403) expect(viaSession.json().code).toBe('FORBIDDEN');
    }
    // The two cases it opened are owned by the user (as the session or the key acted as them).
    const opened = await db().selectFrom('cases').select(['owner_id']).where('title', '=', `Session ${user.id}`).execute();
    expect(opened).toEqual([{ owner_id: user.id }, { owner_id: user.id }]);
    // Another agent's case: 404 both ways.
    const other = await createActor(db(), 'supervisor');
    const foreign = await t.app.inject({ method: 'POST', url: '/v1/cases', headers: other.headers, payload: { template: 'billing-dispute', title: 'Not theirs', queue: uniqueId('elsewhere') } });
    const id = foreign.json().id as string;
    expect((await t.app.inject({ method: 'GET', url: `/v1/cases/${id}`, headers: keyHeaders })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: `/v1/cases/${id}`, headers: { cookie: b.cookie } })).statusCode).toBe(404);
  });

  it('supervisor: reads supervisor views and sets presence', async () => {
    const sup = await createUser('supervisor');
    const agent = await createUser('agent');
    const b = await signIn(sup.username);
    expect((await t.app.inject({ method: 'GET', url: '/v1/goals', headers: { cookie: b.cookie } })).statusCode).toBe(200);
    const presence = await t.app.inject({ method: 'POST', url: `/v1/users/${agent.id}/presence`, headers: asBrowser(b), payload: { presence: 'available', reason: 'shift start' } });
    expect(presence.statusCode, presence.body).toBe(200);
    const journal = await db().selectFrom('user_journal').selectAll().where('user_id', '=', agent.id).where('type', '=', 'user.presence_changed').execute();
    expect(journal).toMatchObject([{ actor_id: sup.id, actor_role: 'supervisor', reason: 'shift start', data: { from: 'offline', to: 'available' } }]);
    // Admin-only routes stay admin-only.
    const patch = await t.app.inject({ method: 'PATCH', url: `/v1/users/${agent.id}`, headers: asBrowser(b), payload: { display_name: 'Renamed' } });
    expect(patch.statusCode).toBe(403);
  });
});

describe('CSRF', () => {
  async function victim() {
    const user = await createUser('admin');
    const target = await createUser('agent');
    return { b: await signIn(user.username), target };
  }
  const targetRow = (id: string) => db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const journalOf = (id: string) => db().selectFrom('user_journal').selectAll().where('user_id', '=', id).execute();

  it('a cross-site form post (urlencoded, no token, foreign Origin) changes nothing', async () => {
    const { b, target } = await victim();
    const before = { row: await targetRow(target.id), journal: await journalOf(target.id) };
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/users/${target.id}/disable`,
      headers: { cookie: b.cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'reason=pwned',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('CSRF_REFUSED');
    expect(await targetRow(target.id)).toEqual(before.row);
    expect(await journalOf(target.id)).toEqual(before.journal);
    // And a form post that opens a case: nothing opened.
    const open = await t.app.inject({
      method: 'POST',
      url: '/v1/cases',
      headers: { cookie: b.cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      payload: `template=billing-dispute&title=${target.id}`,
    });
    expect(open.statusCode).toBe(403);
    expect(await db().selectFrom('cases').select('id').where('title', '=', target.id).execute()).toEqual([]);
  });

  it('refuses a same-origin write without the token, with a wrong token, or naming no origin; a Bearer key needs neither', async () => {
    const { b, target } = await victim();
    const before = await targetRow(target.id);
    const attempts = [
      { cookie: b.cookie, origin: ORIGIN },
      { cookie: b.cookie, origin: ORIGIN, 'x-csrf-token': 'x'.repeat(43) },
      { cookie: b.cookie, 'x-csrf-token': b.csrf },
      { cookie: b.cookie, 'x-csrf-token': b.csrf, referer: 'https://evil.example/page' },
      { cookie: b.cookie, 'x-csrf-token': b.csrf, origin: ORIGIN, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of attempts) {
      const res = await t.app.inject({ method: 'PATCH', url: `/v1/users/${target.id}`, headers, payload: { display_name: 'Changed' } });
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json().code).toBe('CSRF_REFUSED');
    }
    expect(await targetRow(target.id)).toEqual(before);
    // With the token and this origin (Origin, or Referer, or Sec-Fetch-Site alone) it works.
    const ok = await t.app.inject({ method: 'PATCH', url: `/v1/users/${target.id}`, headers: asBrowser(b), payload: { display_name: 'Changed' } });
    expect(ok.statusCode, ok.body).toBe(200);
    const viaReferer = await t.app.inject({ method: 'PATCH', url: `/v1/users/${target.id}`, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf, referer: `${ORIGIN}/users` }, payload: { display_name: 'Again' } });
    expect(viaReferer.statusCode).toBe(200);
    const viaFetchSite = await t.app.inject({ method: 'PATCH', url: `/v1/users/${target.id}`, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf, 'sec-fetch-site': 'same-origin' }, payload: { display_name: 'Third' } });
    expect(viaFetchSite.statusCode).toBe(200);
    const viaKey = await t.app.inject({ method: 'PATCH', url: `/v1/users/${target.id}`, headers: { ...bearer(ADMIN_KEY), origin: 'https://elsewhere.example' }, payload: { display_name: 'By key' } });
    expect(viaKey.statusCode).toBe(200);
  });

  it('reads need no token', async () => {
    const { b } = await victim();
    expect((await t.app.inject({ method: 'GET', url: '/v1/users', headers: { cookie: b.cookie } })).statusCode).toBe(200);
  });
});

describe('sessions end', () => {
  const refused = async (b: Browser) => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: b.cookie } });
    expect(res.statusCode).toBe(401);
    expect(res.json().detail).toContain('sign in again');
  };

  it('after the idle period without use', async () => {
    const user = await createUser('agent');
    const b = await signIn(user.username);
    await db().updateTable('sessions').set({ last_seen_at: new Date(Date.now() - 29 * 60_000) }).where('id_hash', '=', (await sessionRow(b)).id_hash).execute();
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: b.cookie } })).statusCode).toBe(200);
    // That use moved last_seen_at on (it was older than a minute).
    expect((await sessionRow(b)).last_seen_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
    await db().updateTable('sessions').set({ last_seen_at: new Date(Date.now() - 31 * 60_000) }).where('id_hash', '=', (await sessionRow(b)).id_hash).execute();
    await refused(b);
  });

  it('at the absolute expiry however recently used', async () => {
    const user = await createUser('agent');
    const b = await signIn(user.username);
    await db().updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id_hash', '=', (await sessionRow(b)).id_hash).execute();
    await refused(b);
  });

  it('when signed out (and the cookie is cleared)', async () => {
    const user = await createUser('agent');
    const b = await signIn(user.username);
    const noToken = await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: { cookie: b.cookie, origin: ORIGIN } });
    expect(noToken.statusCode).toBe(403);
    const out = await t.app.inject({ method: 'DELETE', url: '/v1/sessions/current', headers: asBrowser(b) });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^tessera_session=; .*Max-Age=0/);
    expect((await sessionRow(b)).revoked_at).not.toBeNull();
    await refused(b);
  });

  it('when the user is disabled: sessions and API keys stop at once, and stay ended after enable', async () => {
    const user = await createUser('agent');
    const b = await signIn(user.username);
    const key = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(ADMIN_KEY), payload: { role: 'agent', user_id: user.id, name: 'desk' } });
    const keyHeaders = bearer(key.json().key);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: keyHeaders })).statusCode).toBe(200);
    const disabled = await t.app.inject({ method: 'POST', url: `/v1/users/${user.id}/disable`, headers: bearer(ADMIN_KEY), payload: { reason: 'left the company' } });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect(disabled.json()).toMatchObject({ disabled: true, presence: 'offline' });
    await refused(b);
    expect((await sessionRow(b)).revoked_at).not.toBeNull();
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: keyHeaders })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, remoteAddress: '10.4.0.1' })).statusCode).toBe(401);

    expect((await t.app.inject({ method: 'POST', url: `/v1/users/${user.id}/enable`, headers: bearer(ADMIN_KEY) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: keyHeaders })).statusCode).toBe(200);
    await refused(b);
  });

  it("when the password changes: the user's other sessions end, the one that changed it stays", async () => {
    const user = await createUser('agent');
    const first = await signIn(user.username);
    const second = await signIn(user.username);
    const wrong = await t.app.inject({ method: 'PUT', url: `/v1/users/${user.id}/password`, headers: asBrowser(first), payload: { password: 'a brand new passphrase', current_password: 'not it at all' } });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().code).toBe('CURRENT_PASSWORD_WRONG');
    await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: second.cookie } }).then((r) => expect(r.statusCode).toBe(200));
    const changed = await t.app.inject({ method: 'PUT', url: `/v1/users/${user.id}/password`, headers: asBrowser(first), payload: { password: 'a brand new passphrase', current_password: PASSWORD } });
    expect(changed.statusCode, changed.body).toBe(204);
    await refused(second);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: first.cookie } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username: user.username, password: PASSWORD }, remoteAddress: '10.4.0.2' })).statusCode).toBe(401);
    await signIn(user.username, 'a brand new passphrase');
    // An admin setting it ends every session of the user.
    expect((await t.app.inject({ method: 'PUT', url: `/v1/users/${user.id}/password`, headers: bearer(ADMIN_KEY), payload: { password: 'set by the admin ok' } })).statusCode).toBe(204);
    await refused(first);
  });

  it('a made-up or malformed cookie is a 401', async () => {
    for (const cookie of ['tessera_session=nope', `tessera_session=${'A'.repeat(43)}`, 'other=1']) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie } });
      expect(res.statusCode, cookie).toBe(401);
    }
  });
});

describe('OpenAPI', () => {
  it('documents cookie sessions beside bearer keys', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'tessera_session' });
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }, { session: [] }]);
    expect(doc.paths['/v1/sessions'].post.security).toEqual([]);
    expect(doc.paths['/v1/users/{id}/presence']).toBeDefined();
  });
});
