/**
 * One trace from the HTTP request through the command, the BullMQ job and the outbound webhook
 * POST to a loopback receiver, which receives that trace's `traceparent` (real Postgres, Redis).
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessTracing } from '../../src/tracing/in-process.js';
import {
  admin,
  createPrivateDatabase,
  openWebhookNode,
  privatePrefix,
  startReceiver,
  subscribe,
  tableResolver,
  waitFor,
  wipeRedisPrefix,
  type WebhookNode,
} from '../webhooks/webhook-stack.js';

const exporter = new InMemorySpanExporter();
const tracing = startInProcessTracing(exporter);
const cleanups: Array<() => Promise<unknown>> = [];
let node: WebhookNode;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  cleanups.push(receiver.close);
  const db = await createPrivateDatabase();
  cleanups.push(db.drop);
  const prefix = privatePrefix('trace');
  cleanups.push(() => wipeRedisPrefix(prefix));
  node = await openWebhookNode(db.url, prefix, { allowlist: '127.0.0.1', resolveHost: tableResolver({ 'receiver.test': ['127.0.0.1'] }) });
  cleanups.push(() => node.close());
  await node.startWorkers();
  await subscribe(node, `http://receiver.test:${receiver.port}/hooks`, ['case.opened']);
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await tracing.shutdown();
});

describe('tracing', () => {
  it('one trace spans the request, the command, the job and the outbound POST, which carries its traceparent', async () => {
    exporter.reset();
    const res = await node.app.inject({ method: 'POST', url: '/v1/cases', headers: admin, payload: { template: 'timer-case', title: 'traced' } });
    expect(res.statusCode, res.body).toBe(201);
    const received = await waitFor(async () => receiver.requests.find((r) => r.body.includes('case.opened')), 20_000);
    const traceparent = String(received.headers['traceparent'] ?? '');
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const traceId = traceparent.split('-')[1]!;

    const expected = ['request', 'command case.open', 'job tessera-outbox', 'job tessera-webhooks', 'webhook POST'];
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // The job span ends after the POST's answer: wait until every span of the chain has finished.
    await waitFor(async () => expected.every((name) => inTrace().some((s) => s.name === name)), 10_000).catch(() => undefined);
    expect(inTrace().map((s) => s.name)).toEqual(expect.arrayContaining(expected));
    const spans = inTrace();
    const post = spans.find((s) => s.name === 'webhook POST')!;
    expect(traceparent.split('-')[2]).toBe(post.spanContext().spanId);
    // The root is the HTTP request (Fastify's span of the route).
    const root = spans.find((s) => !s.parentSpanContext);
    expect(root?.name).toBe('request');
  });
});
