/**
 * POST /v1/inbound/:source accepts only what a current secret signed, stores it once per
 * webhook-id, and refuses everything else with a problem that names the fix — storing nothing.
 * No workers run here: these tests are about the accept side (the inbox rows).
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor } from '../support/actors.js';
import { expectProblem } from '../support/case-api.js';
import { admin, openInboundStack, ORDER_EVENTS, type InboundStack } from './inbound-stack.js';

let s: InboundStack;
beforeAll(async () => {
  s = await openInboundStack();
});
afterAll(async () => s?.close());

const update = (orderId = 'o-1', n = 1) => ({ type: 'order.updated', data: { order_id: orderId, status: 'paid', n } });

describe('signature', () => {
  it('accepts a signed message: 202 with the inbox id, one durable row with the payload and its correlation key', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, update('o-7'), { secret: src.secret });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ id: expect.any(String), status: 'received' });
    expect(res.headers.location).toBe(`/v1/inbox/${res.json().id}`);
    const rows = await s.inboxRows(src.key);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: res.json().id,
      webhook_id: res.webhookId,
      status: 'received',
      payload: update('o-7'),
      correlation_key: 'external_ref:order_id:o-7',
    });
  });

  it('refuses a tampered body with 401 and stores nothing', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, update('o-1', 2), { secret: src.secret, signedBody: JSON.stringify(update('o-1', 1)) });
    expect(expectProblem(res, 401, 'WEBHOOK_SIGNATURE_INVALID').detail).toMatch(/signature does not match/);
    expect(await s.inboxRows(src.key)).toEqual([]);
  });

  it('refuses a message signed with another secret (a well-formed one) and stores nothing', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const other = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, update(), { secret: other.secret });
    expectProblem(res, 401, 'WEBHOOK_SIGNATURE_INVALID');
    expect(await s.inboxRows(src.key)).toEqual([]);
  });

  it('refuses a timestamp more than 5 minutes old or ahead, even when correctly signed', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 6 * 60, now + 6 * 60]) {
      const res = await s.send(src.key, update(), { secret: src.secret, timestamp });
      expect(expectProblem(res, 401, 'WEBHOOK_SIGNATURE_INVALID').detail).toMatch(/5 minutes/);
    }
    // Inside the window is fine.
    expect((await s.send(src.key, update(), { secret: src.secret, timestamp: now - 4 * 60 })).statusCode).toBe(202);
    expect(await s.inboxRows(src.key)).toHaveLength(1);
  });

  it('a rotated source verifies with both secrets until the old one is removed, then only the new one', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const rotated = await s.app.inject({ method: 'POST', url: `/v1/inbound-sources/${src.key}/secrets`, headers: admin, payload: {} });
    expect(rotated.statusCode, rotated.body).toBe(201);
    const fresh = rotated.json().secret;
    expect(fresh.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(rotated.json().source.secrets.map((x: { id: string; active: boolean }) => [x.id, x.active])).toEqual([
      [src.secretId, true],
      [fresh.id, true],
    ]);

    expect((await s.send(src.key, update('o-1', 1), { secret: src.secret })).statusCode).toBe(202);
    expect((await s.send(src.key, update('o-1', 2), { secret: fresh.secret })).statusCode).toBe(202);
    // A third while two are active is refused: remove one first.
    expectProblem(await s.app.inject({ method: 'POST', url: `/v1/inbound-sources/${src.key}/secrets`, headers: admin, payload: {} }), 409, 'SECRET_LIMIT');

    const removed = await s.app.inject({ method: 'DELETE', url: `/v1/inbound-sources/${src.key}/secrets/${src.secretId}`, headers: admin });
    expect(removed.statusCode, removed.body).toBe(200);
    expectProblem(await s.send(src.key, update('o-1', 3), { secret: src.secret }), 401, 'WEBHOOK_SIGNATURE_INVALID');
    expect((await s.send(src.key, update('o-1', 4), { secret: fresh.secret })).statusCode).toBe(202);
    expect((await s.inboxRows(src.key)).map((r) => (r.payload as { data: { n: number } }).data.n)).toEqual([1, 2, 4]);

    // The last active secret cannot be removed (nothing could sign).
    expectProblem(await s.app.inject({ method: 'DELETE', url: `/v1/inbound-sources/${src.key}/secrets/${fresh.id}`, headers: admin }), 409, 'SECRET_LIMIT');
  });

  it('a rotation may expire the old secret at once; a sender signing with both during the switch still passes', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const rotated = await s.app.inject({
      method: 'POST',
      url: `/v1/inbound-sources/${src.key}/secrets`,
      headers: admin,
      payload: { previous_expire_in_seconds: 0 },
    });
    const fresh = rotated.json().secret.secret as string;
    expectProblem(await s.send(src.key, update(), { secret: src.secret }), 401, 'WEBHOOK_SIGNATURE_INVALID');
    // webhook-signature may carry several space-separated signatures.
    const id = 'msg_both';
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify(update());
    const both = `${new Webhook(src.secret).sign(id, new Date(ts * 1000), body)} ${new Webhook(fresh).sign(id, new Date(ts * 1000), body)}`;
    const res = await s.send(src.key, body, { secret: fresh, id, timestamp: ts, headers: { 'webhook-signature': both } });
    expect(res.statusCode, res.body).toBe(202);
    expect(await s.inboxRows(src.key)).toHaveLength(1);
  });
});

describe('dedup by webhook-id', () => {
  it('a repeat returns the first answer (same id, replay header) and stores nothing new', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const first = await s.send(src.key, update(), { secret: src.secret, id: 'msg_dup_1' });
    // A sender's retry is re-signed with a new timestamp; the body is the same.
    const again = await s.send(src.key, update(), { secret: src.secret, id: 'msg_dup_1', timestamp: Math.floor(Date.now() / 1000) - 30 });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await s.inboxRows(src.key)).toHaveLength(1);
  });

  it('concurrent repeats store one row and all answer with its id', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const answers = await Promise.all(Array.from({ length: 8 }, () => s.send(src.key, update(), { secret: src.secret, id: 'msg_race' })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(202));
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    expect(await s.inboxRows(src.key)).toHaveLength(1);
  });

  it('the same webhook-id with another body is refused (422) and the first row is unchanged', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    await s.send(src.key, update('o-1', 1), { secret: src.secret, id: 'msg_reused' });
    const res = await s.send(src.key, update('o-1', 2), { secret: src.secret, id: 'msg_reused' });
    expect(expectProblem(res, 422, 'WEBHOOK_ID_REUSED').detail).toMatch(/own webhook-id/);
    const rows = await s.inboxRows(src.key);
    expect(rows.map((r) => (r.payload as { data: { n: number } }).data.n)).toEqual([1]);
  });

  it('the same webhook-id at two sources is two messages', async () => {
    const a = await s.createSource(ORDER_EVENTS);
    const b = await s.createSource(ORDER_EVENTS);
    expect((await s.send(a.key, update(), { secret: a.secret, id: 'msg_shared' })).statusCode).toBe(202);
    expect((await s.send(b.key, update(), { secret: b.secret, id: 'msg_shared' })).statusCode).toBe(202);
    expect(await s.inboxRows(a.key)).toHaveLength(1);
    expect(await s.inboxRows(b.key)).toHaveLength(1);
  });
});

describe('bad input: 4xx naming the fix, nothing stored', () => {
  it('missing or malformed webhook headers', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const problem = expectProblem(await s.send(src.key, update(), { secret: src.secret, headers: { [name]: undefined } }), 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([{ pointer: `/${name}`, in: 'header', detail: expect.stringContaining('is required') }]);
    }
    const badTs = expectProblem(await s.send(src.key, update(), { secret: src.secret, headers: { 'webhook-timestamp': '2026-01-01T00:00:00Z' } }), 400, 'VALIDATION_FAILED');
    expect(badTs.detail).toMatch(/seconds since the Unix epoch/);
    expect(await s.inboxRows(src.key)).toEqual([]);
  });

  it('a correctly signed body that is not JSON, not UTF-8, too deep or holds NUL', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    expectProblem(await s.send(src.key, 'not json', { secret: src.secret }), 400, 'MALFORMED_JSON');
    expectProblem(await s.send(src.key, '[]'.padStart(200, '[').padEnd(400, ']'), { secret: src.secret }), 400, 'MALFORMED_JSON');
    const nul = expectProblem(await s.send(src.key, '{"type":"a\\u0000b"}', { secret: src.secret }), 400, 'VALIDATION_FAILED');
    expect(nul.errors[0].pointer).toBe('/type');
    // Invalid UTF-8 bytes: signed over the same bytes by hand.
    const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);
    const id = 'msg_utf8';
    const ts = Math.floor(Date.now() / 1000);
    const res = await s.app.inject({
      method: 'POST',
      url: `/v1/inbound/${src.key}`,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': new Webhook(src.secret).sign(id, new Date(ts * 1000), bytes),
      },
      payload: bytes,
    });
    expect(expectProblem(res, 400, 'MALFORMED_JSON').detail).toMatch(/UTF-8/);
    expect(await s.inboxRows(src.key)).toEqual([]);
  });

  it('another content type is 415; an unknown source 404; a disabled one 409', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    expectProblem(await s.send(src.key, update(), { secret: src.secret, contentType: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(expectProblem(await s.send(src.key, update(), { secret: src.secret, contentType: 'application/json; charset=iso-8859-1' }), 415, 'UNSUPPORTED_MEDIA_TYPE').detail).toMatch(/UTF-8/);
    expectProblem(await s.send('no-such-source', update(), { secret: src.secret }), 404, 'SOURCE_NOT_FOUND');
    const disabled = await s.app.inject({ method: 'PATCH', url: `/v1/inbound-sources/${src.key}`, headers: admin, payload: { enabled: false } });
    expect(disabled.json().enabled).toBe(false);
    expectProblem(await s.send(src.key, update(), { secret: src.secret }), 409, 'SOURCE_DISABLED');
    expect(await s.inboxRows(src.key)).toEqual([]);
  });

  it('a CloudEvents structured body (application/cloudevents+json) is accepted like JSON', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const event = { specversion: '1.0', id: 'ce-1', source: '/shop', type: 'order.updated', data: { order_id: 'o-ce', status: 'paid', n: 1 } };
    const res = await s.send(src.key, event, { secret: src.secret, contentType: 'application/cloudevents+json; charset=utf-8' });
    expect(res.statusCode, res.body).toBe(202);
    expect(await s.inboxRows(src.key)).toEqual([expect.objectContaining({ payload: event, correlation_key: 'external_ref:order_id:o-ce' })]);
  });

  it('the webhook route needs no API key, and the JSON parser of the other routes is unchanged', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    expect((await s.send(src.key, update(), { secret: src.secret })).statusCode).toBe(202);
    // A normal route still parses JSON (the raw-body parser is scoped to the webhook route).
    const res = await s.app.inject({ method: 'PATCH', url: `/v1/inbound-sources/${src.key}`, headers: admin, payload: { description: 'CRM' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().description).toBe('CRM');
  });
});

describe('sources', () => {
  it('secrets are shown once, listed without their value and stored sealed', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    expect(src.secret).toMatch(/^whsec_/);
    const read = await s.app.inject({ method: 'GET', url: `/v1/inbound-sources/${src.key}`, headers: admin });
    expect(read.statusCode).toBe(200);
    expect(read.body).not.toContain(src.secret.slice(6));
    expect(read.json()).toMatchObject({ key: src.key, enabled: true, url: `/v1/inbound/${src.key}`, secrets: [{ id: src.secretId, active: true, expires_at: null }] });
    const row = await s.db.selectFrom('inbound_sources').select('secrets').where('key', '=', src.key).executeTakeFirstOrThrow();
    expect(JSON.stringify(row.secrets)).not.toContain(src.secret.slice(6));
    expect(JSON.stringify(row.secrets)).toContain('tsb1.');
  });

  it('a mapping is checked when written; every problem names its field and nothing is stored', async () => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/inbound-sources',
      headers: admin,
      payload: {
        key: 'bad-mapping',
        mapping: {
          rules: [
            { when: 'type = (', correlate: { by: 'external_ref', value: 'data.id' }, event: { type: 'X' } },
            { correlate: { by: 'customer_id', value: 'data.customer' }, open_case: { template: 'no-such-template', title: '"t"' } },
            { correlate: { by: 'customer_id', value: 'data.customer' } },
          ],
        },
      },
    });
    const problem = expectProblem(res, 422, 'INVALID_MAPPING');
    // open_case was removed: the message says where the decision went.
    expect(problem.errors.find((e: { pointer: string }) => e.pointer === '/mapping/rules/1/open_case').detail).toMatch(/template intake rule/);
    expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/mapping/rules/0/when',
      '/mapping/rules/0/correlate/ref',
      '/mapping/rules/1/open_case',
      '/mapping/rules/1',
      '/mapping/rules/2',
    ]);
    expect((await s.app.inject({ method: 'GET', url: '/v1/inbound-sources/bad-mapping', headers: admin })).statusCode).toBe(404);
    // Unknown fields are refused by the schema, with their pointer.
    const unknown = await s.app.inject({
      method: 'POST',
      url: '/v1/inbound-sources',
      headers: admin,
      payload: { key: 'bad-mapping', mapping: { rules: [{ correlate: { by: 'customer_id', value: 'x' }, event: { type: 'X' }, whenn: 'true' }] } },
    });
    expect(expectProblem(unknown, 400, 'VALIDATION_FAILED').errors[0].pointer).toBe('/mapping/rules/0/whenn');
  });

  it('a taken key is 409; integrators read sources but may not change them', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    expectProblem(
      await s.app.inject({ method: 'POST', url: '/v1/inbound-sources', headers: admin, payload: { key: src.key, mapping: ORDER_EVENTS } }),
      409,
      'SOURCE_EXISTS',
    );
    const integrator = await createActor(s.db, 'integrator');
    const list = await s.app.inject({ method: 'GET', url: '/v1/inbound-sources', headers: integrator.headers });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((x: { key: string }) => x.key)).toContain(src.key);
    expectProblem(await s.app.inject({ method: 'PATCH', url: `/v1/inbound-sources/${src.key}`, headers: integrator.headers, payload: { enabled: false } }), 403, 'FORBIDDEN');
    const agent = await createActor(s.db, 'agent');
    expectProblem(await s.app.inject({ method: 'GET', url: '/v1/inbox', headers: agent.headers }), 403, 'FORBIDDEN');
    expect((await s.app.inject({ method: 'GET', url: `/v1/inbound-sources/${src.key}`, headers: admin })).json().enabled).toBe(true);
  });

  it('a message no rule applies to is accepted, kept as unmatched and listed', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, { type: 'invoice.paid', data: {} }, { secret: src.secret });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe('unmatched');
    const list = await s.app.inject({ method: 'GET', url: `/v1/inbox?source=${src.key}&status=unmatched`, headers: admin });
    expect(list.json().items).toEqual([expect.objectContaining({ id: res.json().id, status: 'unmatched', correlation_key: null, payload: { type: 'invoice.paid', data: {} } })]);
  });
});
