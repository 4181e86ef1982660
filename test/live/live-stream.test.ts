/**
 * The live stream end to end, in queue mode (two API processes' worth of apps on the run's
 * Postgres and Redis): a committed change reaches a watching stream; Last-Event-ID resumes with
 * exactly what was missed; a commit nobody published is caught up by the feed poll; an agent
 * of another team gets no event of a case outside their teams; presence crosses processes;
 * closed streams leave no stream, viewer or listener behind.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { buildApp, type TesseraApp } from '../../src/app.js';
import { assembleCore, type Core } from '../../src/core.js';
import { createInProcessJobQueue } from '../../src/platform/in-process-job-queue.js';
import type { DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { openTestDatabase, openTestJobQueue, silentLogger, TEMPLATES_DIR, testConfig, testSecretBox, uniqueId } from '../support/platform.js';
import { connectSse, type SseClient, type SseEvent } from '../support/sse-client.js';

interface Api {
  app: TesseraApp;
  core: Core;
  url: string;
  close(): Promise<void>;
}

const LIVE = { pollMs: 200, heartbeatMs: 1_000, tilesIntervalMs: 200, refreshMs: 500 };

async function startApi(database: DatabaseHandle, jobs: JobQueue): Promise<Api> {
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TEMPLATES_DIR });
  const app = await buildApp({ config: testConfig(), logger: silentLogger, database, jobs, secrets: testSecretBox(), core, liveOptions: LIVE });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, core, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

let database: DatabaseHandle;
let jobs: JobQueue;
let one: Api;
let two: Api;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;
let billingAgent: Actor;
let socialAgent: Actor;
const BILLING = uniqueId('billing');
const SOCIAL = uniqueId('social');
const clients: SseClient[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  jobs = openTestJobQueue(undefined, `-live-${uniqueId('q')}`);
  one = await startApi(database, jobs);
  two = await startApi(database, jobs);
  api = caseApi({ app: one.app } as never);
  supervisor = await createActor(database.db, 'supervisor');
  billingAgent = await createActor(database.db, 'agent', undefined, [BILLING]);
  socialAgent = await createActor(database.db, 'agent', undefined, [SOCIAL]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await one.close();
  await two.close();
  await jobs.close();
  await database.close();
});

async function watch(on: Api, actor: Actor, query: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await connectSse(on.url, `/v1/stream?${query}`, { ...actor.headers, ...headers });
  clients.push(client);
  return client;
}

const openCase = (queue: string, title = `Live ${queue}`) =>
  api.open(supervisor, { template: 'billing-dispute', title, queue, case_file: { account: { id: 'acc-live' } } });

const addNote = async (caseId: string, text: string) => api.addContent(supervisor, caseId, { kind: 'note', data: { text } });

const caseEvent = (caseId: string, version?: number) => (e: SseEvent) => e.event === 'case' && e.data.case_id === caseId && (version === undefined || e.data.version === version);

describe('a watching stream', () => {
  it('gets ready, a snapshot, then each committed case version with its journal entries and the list that changed', async () => {
    const c = await openCase(BILLING);
    const stream = await watch(one, billingAgent, `cases=${c.id}&lists=queues`);
    expect(stream.status).toBe(200);
    const ready = await stream.next((e) => e.event === 'ready');
    expect(ready.data).toMatchObject({ user_id: billingAgent.userId, resumed: false, subscriptions: { cases: [c.id], lists: [`queue:${BILLING}`], tiles: false } });
    const snapshot = await stream.next((e) => e.event === 'snapshot');
    expect(snapshot.data).toMatchObject({ reason: 'initial', unavailable: [], lists: [`queue:${BILLING}`] });
    expect(snapshot.data.cases).toEqual([expect.objectContaining({ case_id: c.id, version: c.version, queue: BILLING })]);
    expect(snapshot.id).toBe(snapshot.data.position);

    await addNote(c.id, 'first live note');
    const event = await stream.next(caseEvent(c.id, c.version + 1));
    expect(event.id).toBe(event.data.position);
    expect(event.data.case).toMatchObject({ case_id: c.id, version: c.version + 1, queue: BILLING });
    expect(event.data.entries.length).toBeGreaterThan(0);
    expect(event.data.entries.every((e: { version: number }) => e.version === c.version + 1)).toBe(true);
    expect(event.data.entries[0]).toMatchObject({ actor: { id: supervisor.userId, role: 'supervisor' } });
    // The open's own list event may come after the snapshot too (a duplicate of what it holds, README).
    const list = await stream.next((e) => e.event === 'list' && e.data.case_id === c.id && e.data.version === c.version + 1);
    expect(list.data).toEqual({ list: `queue:${BILLING}`, case_id: c.id, version: c.version + 1 });
  });

  it('on another API process gets the change through Redis as well', async () => {
    const c = await openCase(BILLING);
    const stream = await watch(two, supervisor, `cases=${c.id}`);
    await stream.next((e) => e.event === 'snapshot');
    await addNote(c.id, 'committed on process one');
    const event = await stream.next(caseEvent(c.id, c.version + 1), 10_000);
    expect(event.data.case.version).toBe(c.version + 1);
  });

  it('catches up a commit whose publish was lost (a writer that publishes nothing), by the feed poll', async () => {
    const c = await openCase(BILLING);
    const stream = await watch(two, supervisor, `cases=${c.id}`);
    await stream.next((e) => e.event === 'snapshot');
    // Another process's core with no after-commit listener but the relay: nothing is published.
    const silent = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TEMPLATES_DIR });
    await silent.runner.run({
      caseId: c.id,
      command: { type: 'content.add', kind: 'note', data: { text: 'never published' } } as never,
      actor: { id: supervisor.userId, role: 'supervisor' },
      respond: ({ case: next }) => ({ statusCode: 201, body: next.version }),
    });
    const event = await stream.next(caseEvent(c.id, c.version + 1), 10_000);
    expect(event.data.entries.map((e: { type: string }) => e.type)).toContain('content.added');
  });
});

describe('resume', () => {
  it('with Last-Event-ID gets exactly the events committed after it, in order, and no snapshot', async () => {
    const c = await openCase(BILLING);
    const first = await watch(one, supervisor, `cases=${c.id}`);
    await first.next((e) => e.event === 'snapshot');
    await addNote(c.id, 'seen live');
    await first.next(caseEvent(c.id, c.version + 1));
    const lastSeen = first.lastId()!;
    first.close();

    await addNote(c.id, 'missed one');
    await addNote(c.id, 'missed two');
    const resumed = await watch(two, supervisor, `cases=${c.id}`, { 'last-event-id': lastSeen });
    expect((await resumed.next((e) => e.event === 'ready')).data.resumed).toBe(true);
    await resumed.next(caseEvent(c.id, c.version + 3));
    await addNote(c.id, 'live again');
    await resumed.next(caseEvent(c.id, c.version + 4));
    const versions = resumed.events.filter((e) => e.event === 'case').map((e) => e.data.version);
    expect(versions).toEqual([c.version + 2, c.version + 3, c.version + 4]);
    expect(resumed.events.some((e) => e.event === 'snapshot')).toBe(false);
  });

  it('with an id this server never wrote gets a snapshot (unknown_position)', async () => {
    const c = await openCase(BILLING);
    const stream = await watch(one, supervisor, `cases=${c.id}&last_event_id=not-an-id`);
    const snapshot = await stream.next((e) => e.event === 'snapshot');
    expect(snapshot.data.reason).toBe('unknown_position');
    expect(snapshot.data.cases[0]).toMatchObject({ case_id: c.id, version: c.version });
  });
});

describe('visibility', () => {
  it('an agent of another team gets no event of a case outside their teams, and sees it as unavailable', async () => {
    const billingCase = await openCase(BILLING, 'billing only');
    const socialCase = await openCase(SOCIAL, 'social sentinel');
    const stream = await watch(one, socialAgent, `cases=${billingCase.id},${socialCase.id}&lists=queues,inbox`);
    const snapshot = await stream.next((e) => e.event === 'snapshot');
    expect(snapshot.data.unavailable).toEqual([billingCase.id]);
    expect(snapshot.data.cases.map((h: { case_id: string }) => h.case_id)).toEqual([socialCase.id]);

    await addNote(billingCase.id, 'not for social');
    await addNote(socialCase.id, 'for social');
    // The sentinel comes after the billing change in feed order: by then the billing one was passed by.
    await stream.next(caseEvent(socialCase.id, socialCase.version + 1));
    await stream.next((e) => e.event === 'list' && e.data.case_id === socialCase.id);
    const afterSnapshot = stream.events.slice(stream.events.indexOf(snapshot) + 1);
    expect(afterSnapshot.length).toBeGreaterThan(0);
    expect(afterSnapshot.filter((e) => JSON.stringify(e.data).includes(billingCase.id))).toEqual([]);
  });

  it('refuses what an agent may not watch before the stream starts, naming the field', async () => {
    const tiles = await watch(one, billingAgent, 'tiles=true');
    expect(tiles.status).toBe(403);
    expect(JSON.parse(tiles.body)).toMatchObject({ status: 403, errors: [{ pointer: '/tiles' }] });
    const otherQueue = await watch(one, billingAgent, `lists=queue:${SOCIAL}`);
    expect(otherQueue.status).toBe(403);
    expect(JSON.parse(otherQueue.body).errors[0].pointer).toBe('/lists');
    const badList = await watch(one, billingAgent, 'lists=everything');
    expect(badList.status).toBe(400);
    expect(JSON.parse(badList.body).errors[0].pointer).toBe('/lists');
    const integrator = await createActor(database.db, 'integrator');
    expect((await watch(one, integrator, 'lists=inbox')).status).toBe(403);
    expect((await watch(one, billingAgent, 'lists=inbox', { authorization: 'Bearer wrong' })).status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('describes the stream and the subscriptions route', async () => {
    const doc = (await one.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.paths['/v1/stream'].get.responses['200'].content).toHaveProperty('text/event-stream');
    expect(doc.paths['/v1/stream/{stream_id}/subscriptions'].put.requestBody).toBeDefined();
  });
});

describe('subscriptions', () => {
  it('change without reconnecting, and the versions a client holds bring what it missed', async () => {
    const c = await openCase(BILLING);
    const stream = await watch(one, supervisor, 'lists=inbox');
    const ready = await stream.next((e) => e.event === 'ready');
    await stream.next((e) => e.event === 'snapshot');
    const held = (await api.get(supervisor, c.id)).version;
    await addNote(c.id, 'between the GET and the subscription');
    // The PUT lands on the other process: it is forwarded to the one holding the stream.
    const put = await two.app.inject({
      method: 'PUT',
      url: `/v1/stream/${ready.data.stream_id}/subscriptions`,
      headers: { ...supervisor.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ cases: [c.id], lists: ['inbox'], versions: { [c.id]: held } }),
    });
    expect(put.statusCode).toBe(202);
    const subscribed = await stream.next((e) => e.event === 'subscribed');
    expect(subscribed.data.subscriptions.cases).toEqual([c.id]);
    expect((await stream.next(caseEvent(c.id, held + 1))).data.entries.length).toBeGreaterThan(0);
    await addNote(c.id, 'after the subscription');
    await stream.next(caseEvent(c.id, held + 2));

    const other = await two.app.inject({
      method: 'PUT',
      url: `/v1/stream/${ready.data.stream_id}/subscriptions`,
      headers: { ...billingAgent.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ cases: [c.id] }),
    });
    expect(other.statusCode).toBe(404);
  });
});

describe('presence', () => {
  it('shows the viewers of a case to each other across API processes, and drops one who leaves', async () => {
    const c = await openCase(BILLING);
    const a = await watch(one, supervisor, `cases=${c.id}`);
    await a.next((e) => e.event === 'presence' && e.data.viewers.length === 1);
    const b = await watch(two, billingAgent, `cases=${c.id}`);
    const both = (e: SseEvent) => e.event === 'presence' && e.data.case_id === c.id && e.data.viewers.length === 2;
    const seenByA = await a.next(both, 10_000);
    expect(seenByA.data.viewers.map((v: { user_id: string }) => v.user_id).sort()).toEqual([supervisor.userId, billingAgent.userId].sort());
    await b.next(both, 10_000);
    const from = a.events.length;
    b.close();
    const left = await a.next((e) => e.event === 'presence' && e.data.viewers.length === 1, 10_000, from);
    expect(left.data.viewers[0].user_id).toBe(supervisor.userId);
  });
});

describe('closing', () => {
  it('closed streams leave no stream, viewer, listener or Redis presence behind', async () => {
    const c = await openCase(BILLING);
    const before = one.app.live.hub.openStreams();
    const opened = await Promise.all(Array.from({ length: 10 }, () => watch(one, supervisor, `cases=${c.id}&lists=inbox`)));
    await Promise.all(opened.map((s) => s.next((e) => e.event === 'presence')));
    expect(one.app.live.hub.openStreams()).toBe(before + 10);
    for (const s of opened) s.close();
    await expect.poll(() => one.app.live.hub.openStreams(), { timeout: 10_000 }).toBe(before);
    const redis = new Redis(inject('redisUrl'));
    try {
      await expect.poll(() => redis.hlen(`${inject('redisPrefix')}:live:presence:${c.id}`), { timeout: 10_000 }).toBe(0);
    } finally {
      redis.disconnect();
    }
    // Each closed response let go of its socket listeners (nothing waits on a drain).
    expect(one.app.server.listenerCount('request')).toBe(1);
  });
});

describe('embedded mode (in-process bus)', () => {
  it('delivers a commit to a watching stream without Redis', async () => {
    const localJobs = createInProcessJobQueue({ logger: silentLogger });
    const local = await startApi(database, localJobs);
    try {
      expect(local.app.live.bus.kind).toBe('memory');
      const localApi = caseApi({ app: local.app } as never);
      const c = await localApi.open(supervisor, { template: 'billing-dispute', title: 'embedded', queue: BILLING, case_file: { account: { id: 'acc-e' } } });
      const stream = await watch(local, billingAgent, `cases=${c.id}`);
      await stream.next((e) => e.event === 'snapshot');
      await localApi.addContent(supervisor, c.id, { kind: 'note', data: { text: 'embedded note' } });
      await stream.next(caseEvent(c.id, c.version + 1));
      stream.close();
    } finally {
      await local.close();
      await localJobs.close();
    }
  });
});
