/**
 * Secrets and personal data stay out of the logs. Real requests go through an app whose logger
 * has the production options (src/platform/logger.ts) at the chattiest level, and every line
 * it writes is searched for the secrets and personal data those requests carried: API keys
 * (presented and created), idempotency keys, e-mail addresses, phone numbers, customer ids in
 * query strings. The same logger is also handed the objects code is most likely to log by
 * mistake (headers, a case file, a command, a webhook secret, the config).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactSensitive } from '../../src/platform/log-redaction.js';
import { loggerOptions } from '../../src/platform/logger.js';
import { createActor, type Actor } from '../support/actors.js';
import { ADMIN_KEY, bearer, startTestApp, testConfig, uniqueId } from '../support/platform.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
    done();
  },
});
const logger = pino(loggerOptions('trace'), sink);

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;

beforeAll(async () => {
  t = await startTestApp({ logger });
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

/** The lines written since `from`, and a check that none contains any of `secrets`. */
function expectNoneIn(from: number, secrets: string[]) {
  const written = lines.slice(from);
  expect(written.length, 'the requests were logged at all').toBeGreaterThan(0);
  for (const secret of secrets) {
    const leaks = written.filter((l) => l.includes(secret));
    expect(leaks, `"${secret}" reached the log`).toEqual([]);
  }
  return written.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('request logs', () => {
  it('carry no API key, presented or created, and no idempotency key', async () => {
    const from = lines.length;
    const idempotencyKey = `idem-${uniqueId()}`;
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(ADMIN_KEY), 'idempotency-key': idempotencyKey },
      payload: { role: 'agent', user_id: uniqueId('logged'), name: 'log test' },
    });
    expect(created.statusCode).toBe(201);
    const newKey = created.json().key as string;
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(newKey) })).statusCode).toBe(200);
    // A wrong key, and a key where keys do not belong (the query string).
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer('tsk_wrong-key-guess-123456') })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: `/v1/me?api_key=${newKey}`, headers: bearer(newKey) })).statusCode).toBe(200);

    const logged = expectNoneIn(from, [ADMIN_KEY, newKey, newKey.slice(4), 'tsk_wrong-key-guess-123456', idempotencyKey]);
    // The lines still say what happened.
    expect(logged.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean)).toEqual(['/v1/api-keys', '/v1/me', '/v1/me', '/v1/me?[redacted]']);
    expect(logged.map((l) => (l.res as { statusCode?: number } | undefined)?.statusCode).filter(Boolean)).toEqual([201, 200, 401, 200]);
    // One line per request (http/request-log.ts): the completion, carrying the request.
    expect(logged.filter((l) => l.msg === 'incoming request')).toEqual([]);
    const completed = logged.filter((l) => l.msg === 'request completed');
    expect(completed.map((l) => [(l.req as { method?: string }).method, (l.res as { statusCode?: number }).statusCode])).toEqual([['POST', 201], ['GET', 200], ['GET', 401], ['GET', 200]]);
    expect(completed.every((l) => typeof l.responseTime === 'number')).toBe(true);
  });

  it('carry no personal data from a case: e-mail, phone, customer, case file, query filters', async () => {
    const from = lines.length;
    const email = `${uniqueId('ada')}@example.org`;
    const phone = '+44 20 7946 0958';
    const customerId = uniqueId('cust');
    const opened = await t.app.inject({
      method: 'POST',
      url: '/v1/cases',
      headers: { ...agent.headers, 'content-type': 'application/json', 'idempotency-key': `idem-${customerId}` },
      payload: JSON.stringify({
        template: 'billing-dispute',
        title: 'Logged case',
        customer: { id: customerId, name: 'Ada Lovelace', email },
        case_file: { account: { id: 'acc-log' }, contact: { email, phone } },
      }),
    });
    expect(opened.statusCode).toBe(201);
    const caseId = opened.json().id as string;
    const note = await t.app.inject({
      method: 'POST',
      url: `/v1/cases/${caseId}/content`,
      headers: { ...agent.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ kind: 'note', data: { text: `Customer asked to be called on ${phone} or mailed at ${email}` } }),
    });
    expect(note.statusCode).toBe(201);
    const list = await t.app.inject({ method: 'GET', url: `/v1/cases?customer_id=${customerId}`, headers: agent.headers });
    expect(list.json().items.map((c: { id: string }) => c.id)).toEqual([caseId]);
    // Invalid input echoes nothing personal into the log either.
    const refused = await t.app.inject({
      method: 'POST',
      url: '/v1/cases',
      headers: { ...agent.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ template: 'billing-dispute', title: 'x', customer: { email: `not-an-email ${phone}` } }),
    });
    expect(refused.statusCode).toBe(400);

    expectNoneIn(from, [email, phone, customerId, 'Ada Lovelace', agent.headers.authorization.slice('Bearer '.length)]);
  });
});

describe('objects logged by mistake', () => {
  it('are redacted: headers, case files, commands, webhook secrets, the config', () => {
    const from = lines.length;
    const config = testConfig({ TESSERA_ADMIN_KEY: 'admin-key-that-must-not-leak-0123' });
    logger.info({ req: { url: '/x', headers: { authorization: 'Bearer tsk_leak1', 'idempotency-key': 'idem-leak2', 'webhook-signature': 'v1,leak3' } } }, 'a request');
    logger.info({ headers: { authorization: 'Bearer tsk_leak4', cookie: 'session=leak5' } }, 'raw headers');
    logger.info({ case: { id: 'c1', customer: { email: 'leak6@example.org' }, caseFile: { phone: 'leak7' } } }, 'a case');
    logger.info({ command: { input: { caseFile: { note: 'leak8' }, customer: { name: 'leak9' } } } }, 'a command');
    logger.info({ subscription: { url: 'https://example.org/hook', secret: 'whsec_leak10' }, source: { signing_secret: 'leak11' } }, 'webhooks');
    logger.info({ config }, 'config');
    logger.info({ secret: 'leak12', email: 'leak13@example.org' }, 'top level');
    const logged = expectNoneIn(from, ['tsk_leak1', 'idem-leak2', 'leak3', 'tsk_leak4', 'leak5', 'leak6', 'leak7', 'leak8', 'leak9', 'leak10', 'leak11', 'leak12', 'leak13', 'admin-key-that-must-not-leak', config.databaseUrl!]);
    // What is not sensitive is still there.
    expect(logged[2]).toMatchObject({ case: { id: 'c1', customer: '[redacted]', caseFile: '[redacted]' } });
    expect(logged[4]).toMatchObject({ subscription: { url: 'https://example.org/hook', secret: '[redacted]' } });
  });

  it('are redacted deeper down, in arrays, in errors and at the top of a child logger\'s bindings', () => {
    const from = lines.length;
    logger.info({ items: [{ case: { customer: { email: 'leak20@example.org' } } }] }, 'four levels down, an array being one');
    const failure = Object.assign(new TypeError('could not send'), { customer: { name: 'leak21' }, code: 'E_SEND' });
    logger.error({ err: failure }, 'an error with personal data on it');
    logger.child({ reqId: 'r-1', token: 'leak22' }).info({ step: 1 }, 'a child');
    const logged = expectNoneIn(from, ['leak20', 'leak21', 'leak22']);
    expect(logged[0]).toMatchObject({ items: [{ case: { customer: '[redacted]' } }] });
    // The error is still an error to pino's serializer: its class, message, stack and other fields.
    expect(logged[1]).toMatchObject({ err: { type: 'TypeError', message: 'could not send', code: 'E_SEND', customer: '[redacted]' } });
    expect((logged[1]!.err as { stack: string }).stack).toContain('could not send');
    expect(logged[2]).toMatchObject({ reqId: 'r-1', token: '[redacted]', step: 1 });
    // What was logged is not changed by the redaction.
    expect(failure.customer).toEqual({ name: 'leak21' });
  });
});

describe('redactSensitive', () => {
  const keys = new Set(['secret']);

  it('returns the object itself when nothing in it is sensitive (a request line allocates nothing)', () => {
    const line = { reqId: 'r', res: { statusCode: 200 }, responseTime: 3.2, tags: ['a', 'b'] };
    expect(redactSensitive(line, keys)).toBe(line);
  });

  it('copies only the path to what it censors, and leaves the original alone', () => {
    const shared = { id: 'x' };
    const logged = { a: { b: { secret: 's' } }, other: shared };
    const redacted = redactSensitive(logged, keys);
    expect(redacted).toEqual({ a: { b: { secret: '[redacted]' } }, other: { id: 'x' } });
    expect(redacted.other).toBe(shared);
    expect(logged.a.b.secret).toBe('s');
  });

  it('does not walk class instances or past four levels, and survives cycles', () => {
    class Reply {
      secret = 'held by an instance';
    }
    const reply = new Reply();
    expect(redactSensitive({ res: reply }, keys).res).toBe(reply);
    const deep = { l1: { l2: { l3: { l4: { secret: 'five levels down' } } } } };
    expect(redactSensitive(deep, keys)).toBe(deep);
    const cyclic: Record<string, unknown> = { secret: 's' };
    cyclic.self = cyclic;
    expect(redactSensitive(cyclic, keys).secret).toBe('[redacted]');
  });
});
