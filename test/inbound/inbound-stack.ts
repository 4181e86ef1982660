/**
 * A private Tessera for the inbound webhook tests: its own database (the inbox reconciler
 * re-queues every received row of a database, so workers of other test files must not see these
 * rows) and its own BullMQ prefix; the app, optionally the workers, and helpers to create a
 * source and post signed messages as a sender would.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { assembleCore } from '../../src/core.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase } from '../../src/platform/database.js';
import type { Platform } from '../../src/platform/platform.js';
import { startWorkers, type Workers } from '../../src/worker.js';
import { createPrivateDatabase, privatePrefix, waitFor, wipeRedisPrefix } from '../jobs/timer-stack.js';
import { ADMIN_KEY, bearer, silentLogger, testConfig, testSecretBox } from '../support/platform.js';

export const INBOUND_CATALOG = path.resolve(import.meta.dirname, 'catalog');
export const admin = bearer(ADMIN_KEY);

export interface SendOptions {
  secret: string;
  id?: string;
  /** Seconds since the epoch (default: now). */
  timestamp?: number;
  /** Sign this instead of what is sent (a tampered body). */
  signedBody?: string;
  contentType?: string;
  headers?: Record<string, string | undefined>;
}

export async function openInboundStack(options: { workers?: boolean; inboxConcurrency?: number; templatesDir?: string } = {}) {
  const privateDb = await createPrivateDatabase();
  const prefix = privatePrefix('inbound');
  const database = await openDatabase({ databaseUrl: privateDb.url, dataDir: '/nonexistent', poolSize: 20 });
  const jobs = createBullmqJobQueue({ redisUrl: inject('redisUrl'), prefix, logger: silentLogger });
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: options.templatesDir ?? INBOUND_CATALOG });
  const secrets = testSecretBox();
  const app = await buildApp({ config: testConfig(), logger: silentLogger, database, jobs, secrets, core });
  await app.ready();
  const platform: Platform = { database, jobs, secrets, close: async () => {} };
  let workers: Workers | undefined;
  const db = database.db;

  const stack = {
    app,
    db,
    /** The private database's URL (for a worker process of its own). */
    url: privateDb.url,
    core,
    jobs,
    prefix,
    platform,
    async startWorkers() {
      workers = await startWorkers(platform, core, silentLogger, { reconcileEveryMs: 600_000, inboxConcurrency: options.inboxConcurrency ?? 8 });
    },

    /** Creates a source; returns its key and first secret. */
    async createSource(mapping: unknown, key = `src-${randomUUID().slice(0, 8)}`) {
      const res = await app.inject({ method: 'POST', url: '/v1/inbound-sources', headers: admin, payload: { key, mapping } });
      if (res.statusCode !== 201) throw new Error(`createSource: ${res.statusCode} ${res.body}`);
      return { key, secret: res.json().secret.secret as string, secretId: res.json().secret.id as string };
    },

    /** Posts `body` to /v1/inbound/:source signed as a Standard Webhooks sender would. */
    async send(source: string, body: unknown, o: SendOptions) {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const id = o.id ?? `msg_${randomUUID()}`;
      const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
      const signature = new Webhook(o.secret).sign(id, new Date(timestamp * 1000), o.signedBody ?? text);
      const headers: Record<string, string> = {
        'content-type': o.contentType ?? 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      };
      for (const [k, v] of Object.entries(o.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      const res = await app.inject({ method: 'POST', url: `/v1/inbound/${source}`, headers, payload: text });
      return Object.assign(res, { webhookId: id });
    },

    async inboxRows(source: string) {
      return db.selectFrom('inbox').selectAll().where('source', '=', source).orderBy('seq').execute();
    },

    /** Waits until no row of `source` is `received`; returns the rows. */
    async settled(source: string, timeoutMs = 20_000) {
      const rows = await waitFor(async () => {
        const all = await stack.inboxRows(source);
        return all.length > 0 && all.every((r) => r.status !== 'received') ? all : undefined;
      }, timeoutMs, 100);
      if (!rows) throw new Error(`inbox rows of ${source} still received after ${timeoutMs} ms`);
      return rows;
    },

    async openCase(input: { title?: string; customer?: Record<string, string>; externalRefs?: Record<string, string> } = {}) {
      const response = await core.runner.run({
        template: { key: 'order-case' },
        command: { type: 'case.open', input: { title: input.title ?? 'order', ownerId: 'ada', ...input } },
        actor: { id: 'ada', role: 'agent' },
        respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
      });
      return (response.body as { id: string }).id;
    },

    async journal(caseId: string) {
      return db.selectFrom('journal').selectAll().where('case_id', '=', caseId).orderBy('version').orderBy('idx').execute();
    },

    async counts() {
      const r = await sql<{ cases: number; journal: number; content: number; idem: number }>`
        select (select count(*)::int from cases) as cases, (select count(*)::int from journal) as journal,
               (select count(*)::int from content) as content, (select count(*)::int from idempotency_keys) as idem`.execute(db);
      return r.rows[0]!;
    },

    wipeRedis: () => wipeRedisPrefix(prefix),

    async close() {
      await app.close();
      await workers?.close();
      await jobs.close();
      await database.close();
      await wipeRedisPrefix(prefix);
      await privateDb.drop();
    },
  };
  return stack;
}

export type InboundStack = Awaited<ReturnType<typeof openInboundStack>>;

/** Events for orders, found by the order id; unknown orders stay unmatched. */
export const ORDER_EVENTS = {
  rules: [
    {
      name: 'order updates',
      when: "type = 'order.updated'",
      correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' },
      event: { type: 'ORDER_UPDATED', data: '{ "status": data.status, "n": data.n }' },
    },
  ],
};
