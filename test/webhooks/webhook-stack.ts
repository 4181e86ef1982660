/**
 * A private stack for outbound webhook tests: its own database (the reconciler dispatches every
 * pending outbox row of a database) and BullMQ prefix, the app (for the API) and, on demand,
 * the workers, with the SSRF guard's resolver injected so no test ever asks DNS. Receivers are
 * HTTP servers on 127.0.0.1 only.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { buildApp, type TesseraApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { assembleCore, type Core } from '../../src/core.js';
import { createBullmqJobQueue } from '../../src/platform/bullmq-job-queue.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import type { Platform } from '../../src/platform/platform.js';
import { sendWebhook, type SendWebhook } from '../../src/webhooks/send-webhook.js';
import type { HostResolver, ResolvedAddress } from '../../src/webhooks/ssrf-guard.js';
import { startWorkers, type Workers } from '../../src/worker.js';
import { ADMIN_KEY, SECRET_KEY, bearer, silentLogger, testSecretBox } from '../support/platform.js';
import { TIMER_CATALOG, createPrivateDatabase, privatePrefix, wipeRedisPrefix } from '../jobs/timer-stack.js';

export { createPrivateDatabase, privatePrefix, wipeRedisPrefix };
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** A resolver from a fixed table; records every name asked. Unknown names do not resolve. */
export function tableResolver(table: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolver, { asked });
}

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A receiver on 127.0.0.1. `respond` decides each answer's status (default 200; 0 never answers,
 * 3xx redirects elsewhere on the same server); every request
 * and every TCP connection is counted, so a test can assert that none was made.
 */
export async function startReceiver(respond: (request: ReceivedRequest, n: number) => number = () => 200) {
  const requests: ReceivedRequest[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(received);
      const status = respond(received, requests.length);
      if (status === 0) return; // never answers (a stalled receiver)
      res.statusCode = status;
      if (status >= 300 && status < 400) res.setHeader('location', `http://127.0.0.1:${port}/elsewhere`);
      res.end(status >= 300 ? 'not now' : 'ok');
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port: number = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    get connections() {
      return connections;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

export interface WebhookNodeOptions {
  allowlist?: string;
  resolveHost?: HostResolver;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  timeoutMs?: number;
}

export interface WebhookNode {
  app: TesseraApp;
  core: Core;
  database: DatabaseHandle;
  jobs: JobQueue;
  /** Requests the workers handed to the sender (after the SSRF guard approved them). */
  sent: number;
  /** `send`: what the workers' sender does instead of sendWebhook (a seam, e.g. a crash after the answer). */
  startWorkers(options?: { reconcileEveryMs?: number; send?: SendWebhook }): Promise<Workers>;
  close(): Promise<void>;
}

/** App + core (+ workers on demand) on a private database and prefix. */
export async function openWebhookNode(databaseUrl: string, prefix: string, options: WebhookNodeOptions = {}): Promise<WebhookNode> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: inject('redisUrl'),
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_ADMIN_KEY: ADMIN_KEY,
    TESSERA_SECRET_KEY: SECRET_KEY,
    LOG_LEVEL: 'silent',
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_WEBHOOK_ALLOWLIST: options.allowlist ?? '',
    TESSERA_WEBHOOK_MAX_ATTEMPTS: String(options.maxAttempts ?? 5),
    TESSERA_WEBHOOK_BACKOFF_BASE_MS: String(options.backoffBaseMs ?? 50),
    TESSERA_WEBHOOK_BACKOFF_MAX_MS: String(options.backoffMaxMs ?? 200),
    TESSERA_WEBHOOK_TIMEOUT_MS: String(options.timeoutMs ?? 2_000),
  });
  // Tests never ask real DNS: an unmapped name fails to resolve.
  const resolveHost = options.resolveHost ?? tableResolver({});
  const database = await openDatabase({ databaseUrl, dataDir: '/nonexistent', poolSize: 10 });
  const jobs = createBullmqJobQueue({ redisUrl: inject('redisUrl'), prefix, logger: silentLogger });
  const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TIMER_CATALOG });
  const secrets = testSecretBox();
  const app = await buildApp({ config, logger: silentLogger, database, jobs, secrets, core, resolveHost });
  await app.ready();
  const platform: Platform = { database, jobs, secrets, close: async () => {} };
  let workers: Workers | undefined;
  const node: WebhookNode = {
    app,
    core,
    database,
    jobs,
    sent: 0,
    async startWorkers(workerOptions = {}) {
      const send = workerOptions.send ?? sendWebhook;
      const counting: SendWebhook = (request) => {
        node.sent++;
        return send(request);
      };
      workers = await startWorkers(platform, core, silentLogger, {
        reconcileEveryMs: workerOptions.reconcileEveryMs ?? 600_000,
        webhooks: config.webhooks,
        resolveHost,
        sendWebhook: counting,
      });
      return workers;
    },
    async close() {
      await app.close();
      await workers?.close();
      await jobs.close();
      await database.close();
    },
  };
  return node;
}

export const admin = bearer(ADMIN_KEY);

/** Creates a subscription through the API as admin; returns its id and secret. */
export async function subscribe(node: WebhookNode, url: string, eventTypes: string[] = ['*']) {
  const res = await node.app.inject({ method: 'POST', url: '/v1/webhook-subscriptions', headers: admin, payload: { url, event_types: eventTypes } });
  if (res.statusCode !== 201) throw new Error(`subscribe failed: ${res.statusCode} ${res.body}`);
  const body = res.json() as { id: string; secret: string };
  return { id: body.id, secret: body.secret };
}

/** Opens `count` timer-case cases through the command path; each emits outbound events. */
export async function openCases(core: Core, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await core.runner.run({
      template: { key: 'timer-case' },
      command: { type: 'case.open', input: { title: `webhook ${i}`, ownerId: 'tester' } },
      actor: { id: 'tester', role: 'agent' },
      respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
    });
    ids.push((response.body as { id: string }).id);
  }
  return ids;
}
