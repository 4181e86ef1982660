/**
 * The privacy Done-when: canary values (name, e-mail, phone, handle, post text, note, task output)
 * are planted for one customer through every path that stores them — a signed inbound webhook
 * that opens a case, the API (customer, case, note, task output, idempotent writes), outbound
 * deliveries to a loopback receiver — then the customer is erased, and none of the canaries is
 * left in a full `pg_dump` of the database, in the run's Redis keys, or in the captured logs;
 * a second customer's data is intact, and the erased cases keep their skeleton.
 * Its own database (pg_dump sees only this test's rows) and Redis prefix.
 */
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApp, type TesseraApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { assembleCore, type Core } from '../../src/core.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { loggerOptions } from '../../src/platform/logger.js';
import { startWorkers, type Workers } from '../../src/worker.js';
import { createPrivateDatabase, privatePrefix, wipeRedisPrefix } from '../jobs/timer-stack.js';
import { ADMIN_KEY, SECRET_KEY, TEMPLATES_DIR, bearer, testSecretBox } from '../support/platform.js';
import { startReceiver, tableResolver, waitFor } from '../webhooks/webhook-stack.js';
import { createEraser } from '../../src/privacy/erase-personal-data.js';
import { PERSONAL_DATA_PLACES } from '../../src/privacy/personal-data.js';

const run = promisify(execFile);
const admin = bearer(ADMIN_KEY);
const tag = randomUUID().slice(0, 6);

function canariesFor(who: string) {
  return {
    name: `Zorblatt ${who}Quenby${tag}`,
    email: `zq.${who}.${tag}@canary.example`,
    phone: `+4477009${tag.replace(/\D/g, '7').padEnd(5, '7').slice(0, 5)}${who === 'a' ? '1' : '2'}`,
    handle: `@zq_${who}_${tag}`,
    post: `CANARYPOST${who}${tag} terrible awful horrible service, I hate this, worst ever, furious and disgusted`,
    apiPost: `CANARYAPIPOST${who}${tag} still broken`,
    note: `CANARYNOTE${who}${tag} prefers calls after six`,
    output: `CANARYOUT${who}${tag} customer confirmed address`,
    orderRef: `ORD${who}${tag}`,
  };
}
const A = canariesFor('a');
const B = canariesFor('b');
/** What a trace of the customer looks like in text (JSON escapes nothing in these values). */
const secretsOf = (c: typeof A) => [c.name, c.email, c.phone, c.handle, c.post, c.apiPost, c.note, c.output, c.orderRef];

const SOCIAL_LISTENING = {
  rules: [
    {
      name: 'posts',
      when: "type = 'post.created'",
      intake: {
        kind: 'social_post',
        type: 'social.post.created',
        customer: '{ "channel": post.channel, "handle": post.author }',
        data: '{ "channel": post.channel, "post_id": post.id, "author_handle": post.author, "text": post.text, "reach": post.reach, "followers": post.followers }',
        external_refs: '{ "post_id": post.id }',
      },
    },
  ],
};

let dbInfo: { url: string; drop: () => Promise<void> };
let prefix: string;
let database: DatabaseHandle;
let jobs: JobQueue;
let core: Core;
let app: TesseraApp;
let workers: Workers;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const logLines: string[] = [];

beforeAll(async () => {
  dbInfo = await createPrivateDatabase();
  prefix = privatePrefix('canary');
  receiver = await startReceiver();
  // The app's own logger options (redaction included), at info, captured line by line.
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = pino(loggerOptions('debug'), sink);
  const config = loadConfig({
    DATABASE_URL: dbInfo.url,
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_ADMIN_KEY: ADMIN_KEY,
    TESSERA_SECRET_KEY: SECRET_KEY,
    LOG_LEVEL: 'debug',
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_WEBHOOK_ALLOWLIST: '127.0.0.1',
    TESSERA_WEBHOOK_BACKOFF_BASE_MS: '50',
    TESSERA_WEBHOOK_BACKOFF_MAX_MS: '200',
    TESSERA_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const resolveHost = tableResolver({});
  database = await openDatabase({ databaseUrl: dbInfo.url, dataDir: '/nonexistent', poolSize: 10 });
  jobs = createBullmqJobQueue({ redisUrl: inject('redisUrl'), prefix, logger });
  core = await assembleCore({ database, jobs, logger, templatesDir: TEMPLATES_DIR });
  const secrets = testSecretBox();
  app = await buildApp({ config, logger, database, jobs, secrets, core, resolveHost });
  await app.ready();
  workers = await startWorkers({ database, jobs, secrets, close: async () => {} }, core, logger, { reconcileEveryMs: 600_000, webhooks: config.webhooks, resolveHost });
}, 90_000);

afterAll(async () => {
  await app?.close();
  await workers?.close();
  await jobs?.close();
  await database?.close();
  await receiver?.close();
  await wipeRedisPrefix(prefix);
  await dbInfo?.drop();
});

async function call(method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method, url, headers: { ...admin, ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) });
}

function expectOk(res: { statusCode: number; body: string }, status = 200) {
  expect(res.statusCode, res.body).toBe(status);
  return JSON.parse(res.body);
}

/** Plants `c` for a new customer through every path; returns the customer id and case ids. */
async function plant(c: typeof A, source: { key: string; secret: string }) {
  const customer = expectOk(
    await call('POST', '/v1/customers', {
      name: c.name,
      identities: [
        { kind: 'email', value: c.email },
        { kind: 'phone', value: c.phone },
        { kind: 'handle', channel: 'x', value: c.handle },
      ],
    }, { 'idempotency-key': `cust-${c.handle}` }),
    201,
  );
  // A signed inbound post from the handle: the social-complaint intake opens a case (reach >= 5000).
  const body = JSON.stringify({ type: 'post.created', post: { channel: 'x', id: `p-${c.handle}`, author: c.handle, text: c.post, reach: 25_000, followers: 900 } });
  const id = `msg_${randomUUID()}`;
  const now = new Date();
  const signature = new Webhook(source.secret).sign(id, now, body);
  const sent = await app.inject({
    method: 'POST',
    url: `/v1/inbound/${source.key}`,
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature },
    payload: body,
  });
  expect(sent.statusCode, sent.body).toBe(202);
  const inbound = await waitFor(async () => {
    const row = await database.db.selectFrom('inbox').selectAll().where('webhook_id', '=', id).executeTakeFirst();
    return row && row.status !== 'received' ? row : undefined;
  }, 30_000);
  expect(inbound.status, JSON.stringify(inbound.error)).toBe('applied');

  // A case through the API, idempotently, with the customer's details and a post in its file.
  const opened = expectOk(
    await call('POST', '/v1/cases', {
      template: 'social-complaint',
      title: `Complaint from ${c.name}`,
      customer: { id: customer.id, name: c.name, handle: c.handle, email: c.email },
      external_refs: { order_id: c.orderRef },
      case_file: { post: { channel: 'x', url: `https://x.com/${c.handle.slice(1)}/1`, authorHandle: c.handle, text: c.apiPost, reach: 25_000, sentiment: -0.8 } },
    }, { 'idempotency-key': `case-${c.handle}` }),
    201,
  );
  expectOk(await call('POST', `/v1/cases/${opened.id}/content`, { kind: 'note', data: { text: c.note } }, { 'idempotency-key': `note-${tag}-${c.handle.slice(4, 5)}` }), 201);
  const task = (opened.tasks as { id: string; fragment_id: string }[]).find((t) => opened.fragments.find((f: { id: string; definition: string }) => f.id === t.fragment_id)?.definition === 'social-triage@1');
  expect(task).toBeDefined();
  expectOk(await call('POST', `/v1/tasks/${task!.id}/complete`, { output: { severity: 'high', category: 'product', customerIdentified: true, notes: c.output } }));
  const cases = await database.db.selectFrom('cases').select('id').where('customer_id', '=', customer.id).execute();
  return { customerId: customer.id as string, caseIds: cases.map((r) => r.id) };
}

async function pgDump(): Promise<string> {
  const { stdout } = await run('pg_dump', ['--no-owner', '--data-only', dbInfo.url], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** Every key of the run's prefix with its contents, as text. */
async function redisText(): Promise<string> {
  const redis = new Redis(inject('redisUrl'));
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', '500');
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') parts.push(key, String(await redis.get(key)));
        else if (type === 'hash') parts.push(key, JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') parts.push(key, JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') parts.push(key, JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') parts.push(key, JSON.stringify(await redis.zrange(key, '0', '-1')));
        else if (type === 'stream') parts.push(key, JSON.stringify(await redis.xrange(key, '-', '+')));
        else parts.push(key);
      }
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

const lower = (s: string) => s.toLowerCase();
const present = (text: string, values: string[]) => values.filter((v) => lower(text).includes(lower(v)));
/** The lines of `text` holding any of `values` (what a failure shows). */
const where = (text: string, values: string[]) => text.split('\n').filter((l) => values.some((v) => lower(l).includes(lower(v)))).map((l) => l.slice(0, 300));

describe('erasure leaves no canary anywhere', () => {
  let a: { customerId: string; caseIds: string[] };
  let b: { customerId: string; caseIds: string[] };

  it('plants both customers through every path and delivers their events to the receiver', async () => {
    await call('POST', '/v1/webhook-subscriptions', { url: receiver.url, event_types: ['*'] });
    const created = expectOk(await call('POST', '/v1/inbound-sources', { key: 'social-listening', mapping: SOCIAL_LISTENING }), 201);
    const source = { key: 'social-listening', secret: created.secret.secret as string };
    a = await plant(A, source);
    b = await plant(B, source);
    const inbound = await database.db.selectFrom('inbox').select(['status', 'case_id', 'result']).execute();
    expect(inbound.map((r) => r.case_id !== null), JSON.stringify(inbound.map((r) => r.result))).toEqual([true, true]);
    expect(a.caseIds.length).toBe(2);
    expect(b.caseIds.length).toBe(2);
    // Outbound deliveries happened (bodies carrying the case data went out).
    await waitFor(async () => receiver.requests.some((r) => r.body.includes(A.handle) || r.body.includes(A.name)) || undefined, 30_000);
    await waitFor(async () => {
      const pending = await database.db.selectFrom('webhook_deliveries').select('id').where('status', '=', 'pending').execute();
      return pending.length === 0 || undefined;
    }, 30_000);
    // Planted: every canary of A is in the dump before erasure (so the check below means something).
    const before = await pgDump();
    expect(present(before, secretsOf(A))).toEqual(secretsOf(A));
    expect(present(before, secretsOf(B))).toEqual(secretsOf(B));
  });

  it('exports everything held about the customer as one document (supervisor or admin)', async () => {
    const res = await call('GET', `/v1/customers/${a.customerId}/export`);
    const doc = expectOk(res);
    expect(doc.customer_id).toBe(a.customerId);
    expect(doc.case_ids.sort()).toEqual([...a.caseIds].sort());
    const text = JSON.stringify(doc);
    expect(present(text, secretsOf(A))).toEqual(secretsOf(A));
    expect(present(text, secretsOf(B))).toEqual([]);
    for (const place of ['cases', 'journal', 'content', 'inbox', 'outbox', 'webhook_attempts', 'customers', 'customer_identities', 'idempotency_keys']) {
      expect(doc.places[place], place).toBeDefined();
    }
    expect(doc.places.inbox.rows.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses erasure to a non-admin and a bad body, changing nothing', async () => {
    const bad = await call('POST', `/v1/customers/${a.customerId}/erase`, { basis: 'because', reason: 'x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('basis');
    const missing = await call('POST', '/v1/customers/no-such-customer/erase', { basis: 'objection', reason: 'ticket 1' });
    expect(missing.statusCode).toBe(404);
    expect(await database.db.selectFrom('erasures').select('id').execute()).toEqual([]);
  });

  it('erases A: no canary of A in pg_dump, Redis or the logs; B intact; A\'s cases keep their skeleton', async () => {
    const goalsBefore = await database.db.selectFrom('goal_views').select(['case_id', 'goal_key', 'status', 'deadline_at']).where('case_id', 'in', a.caseIds).orderBy('case_id').orderBy('goal_key').execute();
    const skeletonBefore = await database.db.selectFrom('cases').select(['id', 'template_key', 'template_version', 'status', 'version', 'opened_at']).where('id', 'in', a.caseIds).orderBy('id').execute();
    const res = await call('POST', `/v1/customers/${a.customerId}/erase`, { basis: 'consent_withdrawn', reason: 'DSR ticket 4711' });
    const erasure = expectOk(res);
    expect(erasure).toMatchObject({ status: 'done', customer_id: a.customerId, cases: 2 });
    expect(Object.keys(erasure.counts).sort()).toEqual(PERSONAL_DATA_PLACES.map((p) => p.name).sort());

    const dump = await pgDump();
    expect(where(dump, secretsOf(A))).toEqual([]);
    expect(present(dump, secretsOf(B))).toEqual(secretsOf(B));
    const redis = await redisText();
    expect(redis.length).toBeGreaterThan(0);
    expect(present(redis, secretsOf(A))).toEqual([]);
    const logs = logLines.join('');
    expect(logLines.length).toBeGreaterThan(10);
    expect(present(logs, secretsOf(A))).toEqual([]);
    expect(present(logs, secretsOf(B))).toEqual([]);

    // The skeleton: same template, status, version, timings, goals.
    expect(await database.db.selectFrom('cases').select(['id', 'template_key', 'template_version', 'status', 'version', 'opened_at']).where('id', 'in', a.caseIds).orderBy('id').execute()).toEqual(skeletonBefore);
    expect(await database.db.selectFrom('goal_views').select(['case_id', 'goal_key', 'status', 'deadline_at']).where('case_id', 'in', a.caseIds).orderBy('case_id').orderBy('goal_key').execute()).toEqual(goalsBefore);
    const view = await call('GET', `/v1/cases/${a.caseIds[0]}`);
    expect(view.statusCode, view.body + logLines.filter((l) => l.includes("\"level\":50")).join("").slice(0, 3000)).toBe(200);
    // Journaled without personal data.
    const journal = await database.db.selectFrom('customer_journal').selectAll().where('customer_id', '=', a.customerId).where('type', '=', 'customer.erased').execute();
    expect(journal).toHaveLength(1);
    expect(present(JSON.stringify(journal), secretsOf(A))).toEqual([]);
    // B's 360 still answers with its name.
    expect(expectOk(await call('GET', `/v1/customers/${b.customerId}`)).name).toBe(B.name);
    // The stored answer of A's idempotent write can no longer be replayed into a new write.
    const replay = await call('POST', '/v1/cases/' + a.caseIds[0] + '/content', { kind: 'note', data: { text: 'again' } }, { 'idempotency-key': `note-${tag}-a` });
    expect(replay.statusCode).toBe(422);
  });

  it('is idempotent: erasing again changes nothing more and leaves no canary', async () => {
    const again = expectOk(await call('POST', `/v1/customers/${a.customerId}/erase`, { basis: 'consent_withdrawn', reason: 'DSR ticket 4711 (repeat)' }));
    expect(again.status).toBe('done');
    expect(Object.entries(again.counts as Record<string, number>).filter(([, n]) => n > 0)).toEqual([]);
    expect(present(await pgDump(), secretsOf(A))).toEqual([]);
  });

  it('resumes after a crash between steps: the next run finishes the rest', async () => {
    const eraser = createEraser({
      db: database.db,
      jobs,
      logger: pino({ level: 'silent' }),
      afterStep: (_id, step) => {
        if (step === 'inbox') throw new Error('simulated crash after the inbox step');
      },
    });
    await expect(eraser.erase({ trigger: 'request', customerId: b.customerId, basis: 'objection', reason: 'ticket 2', requestedBy: { id: 'admin', role: 'admin' } })).rejects.toThrow('simulated crash');
    const half = await database.db.selectFrom('erasures').selectAll().where('customer_id', '=', b.customerId).executeTakeFirstOrThrow();
    expect(half.status).toBe('running');
    expect(half.steps_done).toContain('inbox');
    expect(half.steps_done).not.toContain('cases');
    // Sources are still intact after the crash: B's name is still in the dump.
    expect(present(await pgDump(), [B.name])).toEqual([B.name]);
    const resumer = createEraser({ db: database.db, jobs, logger: pino({ level: 'silent' }) });
    expect(await resumer.resume()).toBe(1);
    const done = await database.db.selectFrom('erasures').selectAll().where('id', '=', half.id).executeTakeFirstOrThrow();
    expect(done.status).toBe('done');
    expect(where(await pgDump(), secretsOf(B))).toEqual([]);
  });
});
