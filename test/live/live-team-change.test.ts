/**
 * A live stream follows its user's team change without a reconnect, on every API process: the
 * process that made the change applies it at once, another one when it re-reads its streams'
 * users. After an agent moves from team A to team B, their stream gets no event of a case
 * queued to A and starts getting those of B; `queues` is re-expanded to the new teams; a
 * disabled user's stream ends.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type TesseraApp } from '../../src/app.js';
import { assembleCore } from '../../src/core.js';
import type { DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { ADMIN_KEY, bearer, openTestDatabase, openTestJobQueue, silentLogger, TEMPLATES_DIR, testConfig, testSecretBox, uniqueId } from '../support/platform.js';
import { connectSse, type SseClient, type SseEvent } from '../support/sse-client.js';

interface Api {
  app: TesseraApp;
  url: string;
}

const ORIGIN = 'http://localhost';
const PASSWORD = 'a team-change test password';

async function startApi(database: DatabaseHandle, jobs: JobQueue, principalRefreshMs: number): Promise<Api> {
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TEMPLATES_DIR });
  const app = await buildApp({
    config: testConfig(),
    logger: silentLogger,
    database,
    jobs,
    secrets: testSecretBox(),
    core,
    liveOptions: { pollMs: 200, heartbeatMs: 1_000, tilesIntervalMs: 200, refreshMs: 500, principalRefreshMs },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

let database: DatabaseHandle;
let jobs: JobQueue;
let one: Api;
let two: Api;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;
const clients: SseClient[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  jobs = openTestJobQueue(undefined, `-teamchange-${uniqueId('q')}`);
  // Process one re-reads its streams' users rarely: what it shows comes from the change made there.
  one = await startApi(database, jobs, 60_000);
  // Process two did not make the change: it finds it by re-reading.
  two = await startApi(database, jobs, 300);
  api = caseApi({ app: one.app } as never);
  supervisor = await createActor(database.db, 'supervisor');
});

afterAll(async () => {
  for (const c of clients) c.close();
  await one.app.close();
  await two.app.close();
  await jobs.close();
  await database.close();
});

async function agentWithSession(teams: string[]) {
  const username = uniqueId('mover');
  const created = await one.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(ADMIN_KEY), payload: { username, display_name: 'Moving agent', role: 'agent', password: PASSWORD, teams } });
  expect(created.statusCode, created.body).toBe(201);
  const signed = await one.app.inject({ method: 'POST', url: '/v1/sessions', payload: { username, password: PASSWORD }, headers: { origin: ORIGIN } });
  expect(signed.statusCode, signed.body).toBe(201);
  return { id: created.json().id as string, cookie: String(signed.headers['set-cookie']).split(';')[0]! };
}

const openCase = (queue: string, title: string) => api.open(supervisor, { template: 'billing-dispute', title, queue, case_file: { account: { id: 'acc-team' } } });
const addNote = (caseId: string, text: string) => api.addContent(supervisor, caseId, { kind: 'note', data: { text } });
const caseEvent = (caseId: string, version: number) => (e: SseEvent) => e.event === 'case' && e.data.case_id === caseId && e.data.version === version;

async function watch(on: Api, cookie: string, query: string): Promise<SseClient> {
  const client = await connectSse(on.url, `/v1/stream?${query}`, { cookie });
  clients.push(client);
  expect(client.status).toBe(200);
  return client;
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('a team change', () => {
  it('moves the streams of an agent from the team they left to the one they joined, on both processes', { timeout: 60_000 }, async () => {
    const LEFT = uniqueId('left');
    const JOINED = uniqueId('joined');
    const agent = await agentWithSession([LEFT]);
    const oldCase = await openCase(LEFT, 'queued to the team left');
    const newCase = await openCase(JOINED, 'queued to the team joined');

    const here = await watch(one, agent.cookie, `cases=${oldCase.id},${newCase.id}&lists=queues`);
    const there = await watch(two, agent.cookie, `cases=${oldCase.id},${newCase.id}&lists=queues`);
    for (const s of [here, there]) {
      const snapshot = await s.next((e) => e.event === 'snapshot');
      expect(snapshot.data).toMatchObject({ unavailable: [newCase.id], lists: [`queue:${LEFT}`] });
    }

    const moved = await one.app.inject({ method: 'PATCH', url: `/v1/users/${agent.id}`, headers: bearer(ADMIN_KEY), payload: { teams: [JOINED], reason: 'moved to the other team' } });
    expect(moved.statusCode, moved.body).toBe(200);

    // Each stream says what it gets now: the new team's queue; the old team's case unavailable.
    for (const s of [here, there]) {
      const subscribed = await s.next((e) => e.event === 'subscribed', 5_000);
      expect(subscribed.data).toMatchObject({ subscriptions: { cases: [oldCase.id, newCase.id], lists: [`queue:${JOINED}`], tiles: false }, unavailable: [oldCase.id] });
    }
    const marks = [here.events.length, there.events.length];

    await addNote(oldCase.id, 'the agent left this team');
    await addNote(newCase.id, 'the agent joined this team');
    for (const [i, s] of [here, there].entries()) {
      // The joined team's case comes after the left team's in feed order: by then that one was passed by.
      await s.next(caseEvent(newCase.id, newCase.version + 1), 20_000, marks[i]);
      await s.next((e) => e.event === 'list' && e.data.list === `queue:${JOINED}` && e.data.case_id === newCase.id, 20_000, marks[i]);
      const after = s.events.slice(marks[i]);
      expect(after.filter((e) => JSON.stringify(e.data).includes(oldCase.id))).toEqual([]);
      expect(after.filter((e) => e.event === 'list' && e.data.list === `queue:${LEFT}`)).toEqual([]);
    }
  });

  it('ends the streams of a user who is disabled', async () => {
    const TEAM = uniqueId('team');
    const agent = await agentWithSession([TEAM]);
    const here = await watch(one, agent.cookie, 'lists=queues');
    const there = await watch(two, agent.cookie, 'lists=queues');
    await here.next((e) => e.event === 'snapshot');
    await there.next((e) => e.event === 'snapshot');
    const disabled = await one.app.inject({ method: 'POST', url: `/v1/users/${agent.id}/disable`, headers: bearer(ADMIN_KEY), payload: { reason: 'left the company' } });
    expect(disabled.statusCode, disabled.body).toBe(200);
    await until(() => here.closed() && there.closed(), 5_000);
    expect([here.closed(), there.closed()]).toEqual([true, true]);
  });
});
