/**
 * Accepted messages are applied asynchronously by the worker: to the case their correlation key
 * finds, as a new case by an intake rule, or as content; once each, in receipt order per key.
 * Unmatched ones are kept, listed and retryable. Real Postgres, Redis and BullMQ workers.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInboxApplier } from '../../src/inbound/apply-inbox.js';
import { createInboundSources } from '../../src/inbound/inbound-sources.js';
import { expectProblem } from '../support/case-api.js';
import { silentLogger } from '../support/platform.js';
import { waitFor } from '../jobs/timer-stack.js';
import { admin, openInboundStack, ORDER_EVENTS, type InboundStack } from './inbound-stack.js';

const update = (orderId: string, n: number, status = 'paid') => ({ type: 'order.updated', data: { order_id: orderId, status, n } });

/** `n` of every ORDER_UPDATED the case received, in journal (application) order. */
async function appliedOrder(s: InboundStack, caseId: string): Promise<number[]> {
  return (await s.journal(caseId)).filter((j) => j.type === 'event.received').map((j) => (j.data as { data: { n: number } }).data.n);
}

/** `n` of every inbox row of the source, in receipt (seq) order. */
async function receiptOrder(s: InboundStack, source: string): Promise<number[]> {
  return (await s.inboxRows(source)).map((r) => (r.payload as { data: { n: number } }).data.n);
}

describe('with workers', () => {
  let s: InboundStack;
  beforeAll(async () => {
    s = await openInboundStack();
    await s.startWorkers();
  });
  afterAll(async () => s?.close());

  it('an event for the case found by external reference is applied once; the row records the case and actions', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'ext-1' } });
    const other = await s.openCase({ externalRefs: { order_id: 'ext-2' } });
    const res = await s.send(src.key, update('ext-1', 1, 'shipped'), { secret: src.secret });
    const [row] = await s.settled(src.key);
    expect(row).toMatchObject({ id: res.json().id, status: 'applied', case_id: caseId, error: null });
    expect(row!.result).toEqual({ case_id: caseId, rule: 0, correlation_key: 'external_ref:order_id:ext-1', actions: ['event.send'] });
    expect(row!.applied_at).not.toBeNull();
    const journal = await s.journal(caseId);
    const received = journal.filter((j) => j.type === 'event.received');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ actor_id: `inbound:${src.key}`, actor_role: 'system', data: expect.objectContaining({ event: 'ORDER_UPDATED', data: { status: 'shipped', n: 1 } }) });
    const state = await s.db.selectFrom('cases').select('state').where('id', '=', caseId).executeTakeFirstOrThrow();
    expect((state.state as { caseFile: Record<string, unknown> }).caseFile.lastStatus).toBe('shipped');
    // The other order's case is untouched.
    expect((await s.journal(other)).some((j) => j.type === 'event.received')).toBe(false);
  });

  it('a duplicate webhook-id has one effect, however often it is sent', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'dup-1' } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => s.send(src.key, update('dup-1', 1), { secret: src.secret, id: 'msg_once' })));
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    await s.settled(src.key);
    // Sent again after it was applied: still the first answer, still one effect.
    const late = await s.send(src.key, update('dup-1', 1), { secret: src.secret, id: 'msg_once' });
    expect(late.json()).toEqual(answers[0]!.json());
    await new Promise((r) => setTimeout(r, 300));
    expect(await appliedOrder(s, caseId)).toEqual([1]);
    expect(await s.inboxRows(src.key)).toHaveLength(1);
  });

  it('events for one case posted concurrently are applied in receipt order, each once', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'burst' } });
    const total = 40;
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < total) {
          const n = next++;
          const res = await s.send(src.key, update('burst', n), { secret: src.secret });
          expect(res.statusCode).toBe(202);
        }
      }),
    );
    const rows = await s.settled(src.key);
    expect(rows.every((r) => r.status === 'applied')).toBe(true);
    const receipt = await receiptOrder(s, src.key);
    expect(receipt).toHaveLength(total);
    expect(await appliedOrder(s, caseId)).toEqual(receipt);
  });

  it('correlates by customer id and by customer handle, attaching content', async () => {
    const src = await s.createSource({
      rules: [
        {
          when: "type = 'crm.profile'",
          correlate: { by: 'customer_id', value: 'customer.id' },
          attach: { kind: 'crm_profile', data: '{ "segment": customer.segment, "lifetime_value": customer.ltv }' },
        },
        {
          when: "type = 'social.post'",
          correlate: { by: 'customer_handle', value: 'post.author' },
          attach: { kind: 'social_post', data: '{ "channel": post.channel, "post_id": post.id, "author_handle": post.author, "text": post.text }' },
        },
      ],
    });
    const byId = await s.openCase({ customer: { id: 'cust-42', name: 'Ada' } });
    const byHandle = await s.openCase({ customer: { id: 'cust-43', handle: '@grace' } });
    await s.send(src.key, { type: 'crm.profile', customer: { id: 'cust-42', segment: 'vip', ltv: 1200 } }, { secret: src.secret });
    await s.send(src.key, { type: 'social.post', post: { channel: 'x', id: 'p-1', author: '@grace', text: 'still waiting' } }, { secret: src.secret });
    // Two keys: applied independently (in parallel), each to its own case.
    const rows = await s.settled(src.key);
    expect(rows.map((r) => [r.status, r.case_id])).toEqual([
      ['applied', byId],
      ['applied', byHandle],
    ]);
    const content = await s.db.selectFrom('content').select(['case_id', 'kind', 'data', 'added_by']).where('case_id', 'in', [byId, byHandle]).orderBy('kind').execute();
    expect(content).toEqual([
      { case_id: byId, kind: 'crm_profile', data: { segment: 'vip', lifetime_value: 1200 }, added_by: `inbound:${src.key}` },
      { case_id: byHandle, kind: 'social_post', data: { channel: 'x', post_id: 'p-1', author_handle: '@grace', text: 'still waiting' }, added_by: `inbound:${src.key}` },
    ]);
  });

  it('a template intake rule opens one case for a new customer; the next message for them threads into it', async () => {
    const src = await s.createSource(
      {
        rules: [
          {
            name: 'orders by customer',
            intake: {
              kind: 'crm_event',
              type: 'order.created',
              customer: '{ "external_id": data.customer.id, "name": data.customer.name }',
              data: '{ "lifetime_value": data.total, "source": "orders", "extra": { "order": data.order_id, "status": data.status, "n": data.n } }',
              external_refs: '{ "order_id": data.order_id }',
            },
          },
        ],
      },
      'orders-crm',
    );
    const message = (n: number, status: string) => ({ type: 'order', data: { order_id: 'ord-77', status, n, total: 900, customer: { id: 'new-cust', name: 'Lin' } } });
    // Two quick messages, the second before the first is applied.
    await Promise.all([s.send(src.key, message(1, 'created'), { secret: src.secret }), s.send(src.key, message(2, 'paid'), { secret: src.secret })]);
    const rows = await s.settled(src.key);
    // The customer was created from the sender's id (under the source's name), once.
    const customers = await s.db.selectFrom('customer_external_ids').select('customer_id').where('system', '=', 'orders-crm').where('external_id', '=', 'new-cust').execute();
    expect(customers).toHaveLength(1);
    const customerId = customers[0]!.customer_id;
    const cases = await s.db.selectFrom('cases').select(['id', 'state', 'priority', 'queue']).where('customer_id', '=', customerId).execute();
    expect(cases).toHaveLength(1);
    const opened = cases[0]!;
    expect(opened.priority).toBe('high');
    expect(opened.queue).toBe('orders');
    expect(opened.state).toMatchObject({ title: 'Order ord-77', customer: { id: customerId, name: 'Lin' }, externalRefs: { order_id: 'ord-77', identity: 'ext:new-cust' } });
    expect(rows.map((r) => [r.status, r.case_id, (r.result as { outcome: string }).outcome, (r.result as { actions: string[] }).actions])).toEqual([
      ['applied', opened.id, 'opened', ['case.open', 'content.add']],
      ['applied', opened.id, 'threaded', ['content.add']],
    ]);
    expect(rows[0]!.result).toMatchObject({ intake_rule: 'order-case@1#/intake/0', priority: 'high', priority_source: 'priorityRules/0' });
    expect(rows[1]!.result).toMatchObject({ thread_key: 'ref:order_id' });
    // Both messages stored their content on the one case, in receipt order.
    const notes = await s.db.selectFrom('content').select('data').where('case_id', '=', opened.id).orderBy('added_at').orderBy('id').execute();
    expect(notes.map((n) => (n.data as { extra: { n: number } }).extra.n).sort()).toEqual([1, 2]);
  });

  it('an event with no case is kept unmatched and listed; retried once the case exists, it is applied', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, update('later-1', 1), { secret: src.secret });
    const [row] = await s.settled(src.key);
    expect(row).toMatchObject({ status: 'unmatched', case_id: null, error: { code: 'NO_MATCHING_CASE', message: expect.stringContaining('external_ref:order_id:later-1') } });
    const listed = await s.app.inject({ method: 'GET', url: `/v1/inbox?status=unmatched&source=${src.key}`, headers: admin });
    expect(listed.json().items.map((m: { id: string }) => m.id)).toEqual([res.json().id]);

    const caseId = await s.openCase({ externalRefs: { order_id: 'later-1' } });
    const retried = await s.app.inject({ method: 'POST', url: `/v1/inbox/${res.json().id}/retry`, headers: admin });
    expect(retried.statusCode, retried.body).toBe(202);
    expect(retried.json().status).toBe('received');
    const applied = await waitFor(async () => {
      const m = (await s.app.inject({ method: 'GET', url: `/v1/inbox/${res.json().id}`, headers: admin })).json();
      return m.status === 'applied' ? m : undefined;
    }, 10_000);
    expect(applied).toMatchObject({ status: 'applied', case_id: caseId, error: null });
    expect(await appliedOrder(s, caseId)).toEqual([1]);
    // Applied messages are not retried.
    expectProblem(await s.app.inject({ method: 'POST', url: `/v1/inbox/${res.json().id}/retry`, headers: admin }), 409, 'INBOX_NOT_RETRYABLE');
  });

  it('a retry with an Idempotency-Key, sent twice (in parallel), reopens the message once and replays the answer', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const res = await s.send(src.key, update('later-idem', 1), { secret: src.secret });
    await s.settled(src.key);
    const caseId = await s.openCase({ externalRefs: { order_id: 'later-idem' } });
    const retry = () =>
      s.app.inject({ method: 'POST', url: `/v1/inbox/${res.json().id}/retry`, headers: { ...admin, 'idempotency-key': `retry-${res.json().id}` } });
    const answers = await Promise.all([retry(), retry()]);
    // Without the key the second would be 409 INBOX_NOT_RETRYABLE (the message is received again).
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202]);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(1);
    expect(answers[0]!.json()).toEqual(answers[1]!.json());
    await waitFor(async () => ((await s.inboxRows(src.key))[0]!.status === 'applied' ? true : undefined), 10_000);
    expect(await appliedOrder(s, caseId)).toEqual([1]);
  });

  it('a closed case is not found: the event stays unmatched and the closed case is untouched', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'closed-1' } });
    await s.core.runner.run({
      caseId,
      command: { type: 'case.close', reason: 'customer withdrew', status: 'cancelled' },
      actor: { id: 'ada', role: 'agent' },
      respond: () => ({ statusCode: 200, body: {} }),
    });
    const before = await s.journal(caseId);
    await s.send(src.key, update('closed-1', 1), { secret: src.secret });
    const [row] = await s.settled(src.key);
    expect(row).toMatchObject({ status: 'unmatched', case_id: null });
    expect(await s.journal(caseId)).toHaveLength(before.length);
  });

  it('an event the case refuses fails with the problem stored, and later messages of the key still apply', async () => {
    const src = await s.createSource({
      rules: [
        { when: "type = 'order.delivered'", correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' }, event: { type: 'ORDER_DELIVERED' } },
        ...ORDER_EVENTS.rules,
      ],
    });
    const caseId = await s.openCase({ externalRefs: { order_id: 'deliv-1' } });
    await s.send(src.key, { type: 'order.delivered', data: { order_id: 'deliv-1' } }, { secret: src.secret });
    await s.send(src.key, { type: 'order.delivered', data: { order_id: 'deliv-1' } }, { secret: src.secret });
    const rows = await s.settled(src.key);
    expect(rows.map((r) => r.status)).toEqual(['applied', 'failed']);
    expect(rows[1]!.error).toMatchObject({ code: 'EVENT_NOT_ACCEPTED' });
    expect((await s.journal(caseId)).filter((j) => j.type === 'event.received')).toHaveLength(1);
  });

  it('a mapping that yields a bad value fails the message with the field named', async () => {
    const src = await s.createSource({
      rules: [{ correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' }, event: { type: 'ORDER_UPDATED', data: 'data.items' } }],
    });
    const caseId = await s.openCase({ externalRefs: { order_id: 'bad-map' } });
    await s.send(src.key, { data: { order_id: 'bad-map', items: [1, 2] } }, { secret: src.secret });
    const [row] = await s.settled(src.key);
    expect(row).toMatchObject({ status: 'failed', error: { code: 'INVALID_MAPPING', pointer: '/rules/0/event/data', message: expect.stringContaining('must produce an object') } });
    expect((await s.journal(caseId)).filter((j) => j.type === 'event.received')).toEqual([]);
  });
});

describe('without workers running', () => {
  let s: InboundStack;
  beforeAll(async () => {
    s = await openInboundStack();
  });
  afterAll(async () => s?.close());

  it('jobs processed out of order and concurrently, by two appliers (two processes), still apply in receipt order, once', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'ooo' } });
    const total = 30;
    await Promise.all(Array.from({ length: total }, (_, n) => s.send(src.key, update('ooo', n), { secret: src.secret })));
    const rows = await s.inboxRows(src.key);
    expect(rows.every((r) => r.status === 'received')).toBe(true);

    const appliers = [0, 1].map(() =>
      createInboxApplier({
        db: s.db,
        runner: s.core.runner,
        sources: createInboundSources({ db: s.db, secrets: s.platform.secrets }),
        catalog: s.core.catalog,
        logger: silentLogger,
      }),
    );
    // Newest first, alternating between the two "processes", all at once.
    const ids = rows.map((r) => r.id).reverse();
    await Promise.all(ids.map((id, i) => appliers[i % 2]!.apply(id)));
    const after = await s.inboxRows(src.key);
    expect(after.every((r) => r.status === 'applied')).toBe(true);
    expect(await appliedOrder(s, caseId)).toEqual(await receiptOrder(s, src.key));
    const version = await s.db.selectFrom('cases').select('version').where('id', '=', caseId).executeTakeFirstOrThrow();
    expect(version.version).toBe(1 + total);
  });

  it('a Redis wipe loses nothing: the reconciler re-queues received rows and the worker applies them', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const caseId = await s.openCase({ externalRefs: { order_id: 'wipe' } });
    for (let n = 0; n < 10; n++) await s.send(src.key, update('wipe', n), { secret: src.secret });
    expect(await s.wipeRedis()).toBeGreaterThan(0);
    await s.startWorkers();
    const rows = await s.settled(src.key);
    expect(rows.every((r) => r.status === 'applied')).toBe(true);
    expect(await appliedOrder(s, caseId)).toEqual(await receiptOrder(s, src.key));
    const keys = await sql<{ n: number }>`select count(*)::int as n from idempotency_keys where owner = ${`inbound:${src.key}`}`.execute(s.db);
    expect(keys.rows[0]!.n).toBe(10);
  });
});
