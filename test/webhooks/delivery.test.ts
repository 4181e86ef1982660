import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { sendWebhook } from '../../src/webhooks/send-webhook.js';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  admin,
  createPrivateDatabase,
  openCases,
  openWebhookNode,
  privatePrefix,
  sleep,
  startReceiver,
  subscribe,
  tableResolver,
  waitFor,
  wipeRedisPrefix,
  type WebhookNode,
  type WebhookNodeOptions,
} from './webhook-stack.js';

// Each test has its own database and BullMQ prefix; receivers listen on 127.0.0.1 only, reached
// through names the injected resolver maps (nothing asks DNS).
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stack(label: string, options: WebhookNodeOptions = {}) {
  const db = await createPrivateDatabase();
  cleanups.push(db.drop);
  const prefix = privatePrefix(label);
  cleanups.push(() => wipeRedisPrefix(prefix));
  const open = async (more: WebhookNodeOptions = {}) => {
    const node = await openWebhookNode(db.url, prefix, { ...options, ...more });
    cleanups.push(() => node.close());
    return node;
  };
  return { db, prefix, open };
}

async function deliveryRows(node: WebhookNode) {
  return node.database.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();
}

async function attemptRows(node: WebhookNode, deliveryId: string) {
  return node.database.db.selectFrom('webhook_delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('n').execute();
}

async function allSettled(node: WebhookNode, expected: number) {
  return waitFor(async () => {
    const rows = await deliveryRows(node);
    return rows.length === expected && rows.every((r) => r.status !== 'pending') ? rows : undefined;
  }, 20_000);
}

const RECEIVER_HOST = 'receiver.test';

describe('delivering outbox events', () => {
  it('reaches a receiver that is down for the first attempts: every event once in effect, same webhook-id, signed with the secret', async () => {
    const FAILURES = 2;
    const perId = new Map<string, number>();
    const receiver = await startReceiver((req) => {
      const id = String(req.headers['webhook-id']);
      perId.set(id, (perId.get(id) ?? 0) + 1);
      return perId.get(id)! <= FAILURES ? 503 : 200;
    });
    cleanups.push(receiver.close);
    const resolveHost = tableResolver({ [RECEIVER_HOST]: ['127.0.0.1'] });
    const { open } = await stack('deliver', { allowlist: '127.0.0.1', resolveHost });
    const node = await open();
    await node.startWorkers();
    const sub = await subscribe(node, `http://${RECEIVER_HOST}:${receiver.port}/hooks`, ['case.opened']);

    const caseIds = await openCases(node.core, 3);
    const rows = await allSettled(node, 3);

    // The rows: each delivered after FAILURES + 1 attempts, each attempt recorded.
    expect(rows.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    for (const row of rows) {
      expect(row.attempts).toBe(FAILURES + 1);
      const attempts = await attemptRows(node, row.id);
      expect(attempts.map((a) => a.status_code)).toEqual([503, 503, 200]);
      expect(attempts[0]!.error).toBe('the receiver answered 503');
      expect(attempts[2]!.error).toBeNull();
    }
    const outbox = await node.database.db.selectFrom('outbox').select(['id', 'status']).where('type', '=', 'case.opened').execute();
    expect(outbox.every((o) => o.status === 'dispatched')).toBe(true);

    // The receiver: same webhook-id on every attempt of an event; deduplicated, each event once.
    expect(receiver.requests).toHaveLength(3 * (FAILURES + 1));
    const applied = new Map<string, { subject: string; id: string }>();
    for (const req of receiver.requests) {
      const verified = new Webhook(sub.secret).verify(req.body, req.headers as Record<string, string>) as { subject: string; id: string };
      applied.set(String(req.headers['webhook-id']), verified);
    }
    expect([...perId.values()]).toEqual([3, 3, 3]);
    expect([...applied.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
    expect([...applied.values()].map((e) => e.subject).sort()).toEqual([...caseIds].sort());
    expect(new Set([...applied.values()].map((e) => e.id))).toEqual(new Set(outbox.map((o) => o.id)));

    // The wire format: CloudEvents structured JSON, Standard Webhooks headers, the URL's host.
    const first = receiver.requests[0]!;
    expect(first.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(first.headers.host).toBe(`${RECEIVER_HOST}:${receiver.port}`);
    expect(first.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const body = JSON.parse(first.body);
    expect(body).toMatchObject({ specversion: '1.0', type: 'case.opened', source: 'tessera', datacontenttype: 'application/json' });
    expect(body.data.caseId).toBe(body.subject);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(first.body, first.headers as Record<string, string>)).toThrow();
    expect(resolveHost.asked.every((h) => h === RECEIVER_HOST)).toBe(true);
  });

  it('logs what an attempt sent before sending it: a worker that dies after the answer leaves an attempt of unknown outcome', async () => {
    const receiver = await startReceiver(() => 200);
    cleanups.push(receiver.close);
    const { open } = await stack('crash', { allowlist: '127.0.0.1', maxAttempts: 3 });
    const node = await open();
    // The worker "dies" between the receiver's answer and recording it: the sender really sends,
    // gets the 200, then the process is gone: nothing after the send runs (the job's retries find
    // the attempt claimed under its lease and do nothing).
    let crashed = 0;
    await node.startWorkers({
      send: async (request) => {
        const answer = await sendWebhook(request);
        expect(answer.statusCode).toBe(200);
        crashed++;
        throw new Error('the worker died here');
      },
    });
    await subscribe(node, receiver.url, ['case.opened']);
    const [caseId] = await openCases(node.core, 1);
    await waitFor(async () => crashed === 1);

    const [delivery] = await deliveryRows(node);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, delivered_at: null, last_status_code: null });
    const received = receiver.requests[0]!;
    expect(received.headers['webhook-id']).toBe(delivery!.id);
    const [attempt] = await attemptRows(node, delivery!.id);
    expect(attempt).toMatchObject({
      n: 1,
      url: receiver.url,
      address: '127.0.0.1',
      outcome: 'unknown',
      status_code: null,
      error: null,
      response_body: null,
      duration_ms: null,
      body_sha256: createHash('sha256').update(received.body).digest('hex'),
      body_bytes: Buffer.byteLength(received.body),
    });
    expect(Number(attempt!.webhook_timestamp)).toBe(Number(received.headers['webhook-timestamp']));
    expect(Math.floor(new Date(attempt!.at).getTime() / 1000)).toBe(Number(received.headers['webhook-timestamp']));

    // The API says so.
    const detail = (await node.app.inject({ method: 'GET', url: `/v1/webhook-deliveries/${delivery!.id}`, headers: admin })).json();
    expect(detail).toMatchObject({ status: 'pending', case_id: caseId, attempt_count: 1 });
    expect(detail.attempts).toEqual([
      {
        n: 1,
        at: new Date(attempt!.at).toISOString(),
        url: receiver.url,
        outcome: 'unknown',
        address: '127.0.0.1',
        webhook_timestamp: Number(received.headers['webhook-timestamp']),
        body_sha256: attempt!.body_sha256,
        body_bytes: Buffer.byteLength(received.body),
        status_code: null,
        error: null,
        response_body: null,
        duration_ms: null,
      },
    ]);
  });

  it('completes the logged attempt with its outcome', async () => {
    const receiver = await startReceiver((_req, n) => (n === 1 ? 503 : 200));
    cleanups.push(receiver.close);
    const { open } = await stack('outcome', { allowlist: '127.0.0.1' });
    const node = await open();
    await node.startWorkers();
    await subscribe(node, receiver.url, ['case.opened']);
    await openCases(node.core, 1);
    const [row] = await allSettled(node, 1);
    const attempts = await attemptRows(node, row!.id);
    expect(attempts.map((a) => [a.n, a.outcome, a.status_code, a.address])).toEqual([
      [1, 'failed', 503, '127.0.0.1'],
      [2, 'succeeded', 200, '127.0.0.1'],
    ]);
    expect(attempts.every((a) => a.duration_ms !== null && a.body_sha256 !== null)).toBe(true);
    expect(attempts.map((a) => a.body_sha256)).toEqual(receiver.requests.map((r) => createHash('sha256').update(r.body).digest('hex')));
  });

  it('dead-letters after the maximum attempts (connection refused), then a replay delivers under the same webhook-id', async () => {
    const closed = await startReceiver();
    await closed.close(); // nothing listens on this port any more: connection refused
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const { open } = await stack('dead', { allowlist: '127.0.0.1', maxAttempts: 3 });
    const node = await open();
    await node.startWorkers();
    const sub = await subscribe(node, `http://127.0.0.1:${closed.port}/hooks`, ['case.opened']);
    const [caseId] = await openCases(node.core, 1);

    const [dead] = await allSettled(node, 1);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, run_attempts: 3, next_attempt_at: null, delivered_at: null });
    const attempts = await attemptRows(node, dead!.id);
    expect(attempts).toHaveLength(3);
    expect(attempts.every((a) => a.status_code === null && a.error!.includes('ECONNREFUSED'))).toBe(true);

    // The API shows it, with its attempts.
    const list = (await node.app.inject({ method: 'GET', url: `/v1/webhook-deliveries?status=dead&subscription_id=${sub.id}`, headers: admin })).json();
    expect(list.items).toEqual([expect.objectContaining({ id: dead!.id, status: 'dead', attempt_count: 3, case_id: caseId, event_type: 'case.opened' })]);
    const detail = (await node.app.inject({ method: 'GET', url: `/v1/webhook-deliveries/${dead!.id}`, headers: admin })).json();
    expect(detail.attempts.map((a: { n: number }) => a.n)).toEqual([1, 2, 3]);
    expect(detail.event).toMatchObject({ specversion: '1.0', subject: caseId, type: 'case.opened' });

    // The receiver is fixed; the delivery is replayed.
    await node.app.inject({ method: 'PATCH', url: `/v1/webhook-subscriptions/${sub.id}`, headers: admin, payload: { url: receiver.url } });
    const replay = await node.app.inject({ method: 'POST', url: `/v1/webhook-deliveries/${dead!.id}/replay`, headers: admin });
    expect(replay.statusCode).toBe(202);
    const delivered = await waitFor(async () => (await deliveryRows(node)).find((r) => r.status === 'delivered'));
    expect(delivered).toMatchObject({ id: dead!.id, attempts: 4, run_attempts: 1 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([dead!.id]);
    expect((await attemptRows(node, dead!.id)).map((a) => a.status_code)).toEqual([null, null, null, 200]);

    // Replaying a delivered one is fine; one still pending is refused.
    await sql`update webhook_deliveries set status = 'pending' where id = ${dead!.id}`.execute(node.database.db);
    const busy = await node.app.inject({ method: 'POST', url: `/v1/webhook-deliveries/${dead!.id}/replay`, headers: admin });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().code).toBe('DELIVERY_IN_PROGRESS');
  });

  it('replays a time range for one subscription: each event again under its own webhook-id', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const { open } = await stack('range', { allowlist: '127.0.0.1' });
    const node = await open();
    await node.startWorkers();
    const from = new Date(Date.now() - 1_000).toISOString();
    const sub = await subscribe(node, receiver.url, ['case.opened']);
    await openCases(node.core, 2);
    const rows = await allSettled(node, 2);
    expect(receiver.requests).toHaveLength(2);

    const res = await node.app.inject({
      method: 'POST',
      url: `/v1/webhook-subscriptions/${sub.id}/replay`,
      headers: admin,
      payload: { from, to: new Date(Date.now() + 1_000).toISOString() },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ events: 2, deliveries: 2 });
    await waitFor(async () => receiver.requests.length === 4 || undefined);
    await allSettled(node, 2);
    const ids = receiver.requests.map((r) => String(r.headers['webhook-id']));
    expect(ids.slice(2).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(new Set(ids).size).toBe(2);

    const empty = await node.app.inject({
      method: 'POST',
      url: `/v1/webhook-subscriptions/${sub.id}/replay`,
      headers: admin,
      payload: { from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' },
    });
    expect(empty.json()).toEqual({ events: 0, deliveries: 0 });
    const backwards = await node.app.inject({
      method: 'POST',
      url: `/v1/webhook-subscriptions/${sub.id}/replay`,
      headers: admin,
      payload: { from: '2000-01-02T00:00:00Z', to: '2000-01-01T00:00:00Z' },
    });
    expect(backwards.statusCode).toBe(422);
    expect(backwards.json().errors[0].pointer).toBe('/to');
  });

  it('sends nothing for a rolled-back command', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const { open } = await stack('rollback', { allowlist: '127.0.0.1' });
    const node = await open();
    await node.startWorkers();
    await subscribe(node, receiver.url, ['*']);

    let rolledBack: string | undefined;
    await expect(
      node.core.runner.run({
        template: { key: 'timer-case' },
        command: { type: 'case.open', input: { title: 'never', ownerId: 'tester' } },
        actor: { id: 'tester', role: 'agent' },
        respond: ({ case: c }) => {
          rolledBack = c.id;
          throw new Error('fails inside the transaction');
        },
      }),
    ).rejects.toThrow('fails inside the transaction');
    expect(rolledBack).toBeDefined();

    // A committed command afterwards goes through, so the pipeline is running.
    const [committed] = await openCases(node.core, 1);
    await waitFor(async () => receiver.requests.some((r) => JSON.parse(r.body).subject === committed) || undefined);
    await node.core.relay.webhooks.reconcile();
    await sleep(300);

    expect(await node.database.db.selectFrom('outbox').select('id').where('case_id', '=', rolledBack!).execute()).toEqual([]);
    expect(receiver.requests.every((r) => JSON.parse(r.body).subject !== rolledBack)).toBe(true);
    const deliveries = await sql<{ n: number }>`
      select count(*)::int as n from webhook_deliveries d join outbox o on o.id = d.outbox_id where o.case_id = ${rolledBack!}`.execute(node.database.db);
    expect(deliveries.rows[0]!.n).toBe(0);
  });

  it('re-checks the URL at delivery time: a host that now resolves to loopback is refused before any socket opens', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const table: Record<string, string[]> = { 'rebind.example.com': ['93.184.216.34'] };
    const { open } = await stack('rebind', { resolveHost: tableResolver(table), maxAttempts: 2 });
    const node = await open();
    await node.startWorkers();
    // Public at creation; the name then points at the loopback receiver (DNS rebinding).
    await subscribe(node, `http://rebind.example.com:${receiver.port}/hooks`, ['case.opened']);
    table['rebind.example.com'] = ['127.0.0.1'];
    await openCases(node.core, 1);

    const [dead] = await allSettled(node, 1);
    expect(dead!.status).toBe('dead');
    const attempts = await attemptRows(node, dead!.id);
    expect(attempts).toHaveLength(2);
    expect(attempts.every((a) => a.error!.startsWith('refused before connecting') && a.error!.includes('resolves to 127.0.0.1'))).toBe(true);
    expect(node.sent).toBe(0);
    expect(receiver.connections).toBe(0);
  });
});

describe('receivers that do not answer 2xx', () => {
  it('counts a redirect (not followed) and a stalled receiver (timeout) as failed attempts', async () => {
    const redirecting = await startReceiver(() => 302);
    const stalled = await startReceiver(() => 0);
    cleanups.push(redirecting.close, stalled.close);
    const { open } = await stack('no-2xx', { allowlist: '127.0.0.1', maxAttempts: 1, timeoutMs: 300 });
    const node = await open();
    await node.startWorkers();
    const toRedirect = await subscribe(node, redirecting.url, ['case.opened']);
    const toStalled = await subscribe(node, stalled.url, ['case.opened']);
    await openCases(node.core, 1);

    const rows = await allSettled(node, 2);
    expect(rows.every((r) => r.status === 'dead' && r.attempts === 1)).toBe(true);
    const redirected = rows.find((r) => r.subscription_id === toRedirect.id)!;
    expect(await attemptRows(node, redirected.id)).toEqual([expect.objectContaining({ status_code: 302, error: 'the receiver answered 302' })]);
    expect(redirecting.requests.map((r) => r.headers['webhook-id'])).toEqual([redirected.id]);
    const timedOut = rows.find((r) => r.subscription_id === toStalled.id)!;
    const [attempt] = await attemptRows(node, timedOut.id);
    expect(attempt!.status_code).toBeNull();
    expect(attempt!.error).toContain('no answer within 300 ms');
    expect(attempt!.duration_ms).toBeGreaterThanOrEqual(250);
  });
});

describe('after Redis loses its keys (prefix-scoped FLUSHALL)', () => {
  it('delivers outbox rows that were never dispatched once the reconciler runs', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const { prefix, open } = await stack('wipe-outbox', { allowlist: '127.0.0.1' });
    const node = await open();
    await subscribe(node, receiver.url, ['case.opened']);
    // No worker yet: the dispatch jobs wait in Redis, and are wiped.
    await openCases(node.core, 4);
    await sleep(100);
    expect(await wipeRedisPrefix(prefix)).toBeGreaterThan(0);
    expect((await node.database.db.selectFrom('outbox').select('status').execute()).every((o) => o.status === 'pending')).toBe(true);

    await node.startWorkers();
    const rows = await allSettled(node, 4);
    expect(rows.every((r) => r.status === 'delivered' && r.attempts === 1)).toBe(true);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(4);
    expect(receiver.requests).toHaveLength(4);
  });

  it('delivers deliveries waiting for a retry, on time, after a wipe and a restart', async () => {
    let failing = true;
    const receiver = await startReceiver(() => (failing ? 500 : 200));
    cleanups.push(receiver.close);
    const { prefix, open } = await stack('wipe-retry', { allowlist: '127.0.0.1', backoffBaseMs: 1_500, backoffMaxMs: 1_500 });
    const first = await open();
    await first.startWorkers();
    await subscribe(first, receiver.url, ['case.opened']);
    await openCases(first.core, 3);
    // Every delivery failed once and waits for its retry, its next attempt time in the row.
    const waiting = await waitFor(async () => {
      const rows = await deliveryRows(first);
      return rows.length === 3 && rows.every((r) => r.attempts === 1 && r.status === 'pending') ? rows : undefined;
    });
    expect(waiting.every((r) => r.next_attempt_at !== null && new Date(r.next_attempt_at) > new Date())).toBe(true);
    await first.close();
    cleanups.pop();
    await wipeRedisPrefix(prefix);
    failing = false;

    const second = await open();
    await second.startWorkers();
    const rows = await allSettled(second, 3);
    expect(rows.every((r) => r.status === 'delivered' && r.attempts === 2)).toBe(true);
    for (const row of rows) {
      const ids = receiver.requests.filter((r) => r.headers['webhook-id'] === row.id);
      expect(ids).toHaveLength(2);
      expect((await attemptRows(second, row.id)).map((a) => a.status_code)).toEqual([500, 200]);
    }
  });
});
