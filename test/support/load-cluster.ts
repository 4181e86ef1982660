/**
 * A Tessera deployment of real processes under a mixed load, and the ledger that says whether
 * anything was lost or doubled. Shared by the scale-out test, the PgBouncer test, `npm run chaos`
 * and `npm run bench:scale` — so it uses no vitest API (the scripts run it too).
 *
 * The load is four kinds of work at once:
 * - commands: `POST /v1/cases` (template `load-case`) titled by, and idempotent on, their key;
 * - timers: every such case arms a 2 s timer whose firing completes its fragment;
 * - outbound webhooks: a subscription to `case.opened` and `fragment.completed` posting to a
 *   receiver on 127.0.0.1 that records every webhook-id it is sent;
 * - inbound webhooks: signed `load.message`s, each from a new account, so each opens one case.
 *
 * A command or message whose answer did not arrive (or was not a 2xx) is "refused", and
 * `settleRefused` sends it again with the same Idempotency-Key / webhook-id until it is
 * acknowledged — as a client following the README would. `audit` then reads the database and the
 * receiver: every acknowledged write applied exactly once, every timer fired once and never
 * before its due time (by the database clock), every event delivered and received under one
 * webhook-id.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { spawnTs } from './process.js';

export const LOAD_CATALOG = path.resolve(import.meta.dirname, 'load-catalog');
export const LOAD_ADMIN_KEY = 'load-admin-key-0123456789abcdef';
export const LOAD_SECRET_KEY = 'dGVzc2VyYS10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXM=';
export const LOAD_TIMER_MS = 2_000;
const SUBSCRIBED = ['case.opened', 'fragment.completed'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(probe: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface TesseraProcess {
  readonly role: 'api' | 'worker';
  readonly name: string;
  /** The API's base URL (undefined for a worker). */
  baseUrl: string | undefined;
  alive(): boolean;
  output(): string;
  pid(): number | undefined;
  /** SIGKILL (or `signal`) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again with the same environment, plus `extraEnv`. An API keeps its port. */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** Anything else (pool size, log level, a clock skew). */
  extra?: Record<string, string>;
}

function baseEnv(c: ClusterEnv): Record<string, string> {
  return {
    DATABASE_URL: c.databaseUrl,
    REDIS_URL: c.redisUrl,
    TESSERA_REDIS_PREFIX: c.prefix,
    TESSERA_TEMPLATES_DIR: LOAD_CATALOG,
    TESSERA_MIGRATE_ON_START: 'false',
    TESSERA_SECRET_KEY: LOAD_SECRET_KEY,
    TESSERA_ADMIN_KEY: LOAD_ADMIN_KEY,
    TESSERA_RATE_LIMIT_PER_MINUTE: '1000000',
    TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE: '1000000',
    TESSERA_WEBHOOK_ALLOWLIST: '127.0.0.1',
    // Retries of a delivery that met a fault come back within seconds, not the default 30 s.
    TESSERA_WEBHOOK_BACKOFF_BASE_MS: '500',
    TESSERA_WEBHOOK_BACKOFF_MAX_MS: '5000',
    TESSERA_WEBHOOK_MAX_ATTEMPTS: '30',
    TESSERA_WEBHOOK_TIMEOUT_MS: '5000',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...(c.extra ?? {}),
  };
}

/** Starts one Tessera process of `role` and waits until it listens (API) or its workers run. */
export async function startTessera(role: 'api' | 'worker', name: string, cluster: ClusterEnv, timeoutMs = 180_000): Promise<TesseraProcess> {
  let env = { ...baseEnv(cluster), TESSERA_ROLE: role, PORT: '0' };
  let child: ReturnType<typeof spawnTs> | undefined;
  let out = '';
  let exited: Promise<void> = Promise.resolve();
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const proc: TesseraProcess = {
    role,
    name,
    baseUrl: undefined,
    alive,
    output: () => out,
    pid: () => child?.pid,
    async kill(signal = 'SIGKILL') {
      if (alive()) child!.kill(signal);
      await exited;
    },
    async restart(extraEnv = {}) {
      await proc.kill('SIGKILL');
      env = { ...env, ...extraEnv };
      await launch();
    },
    async stop() {
      if (!alive()) return;
      child!.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) await proc.kill('SIGKILL');
    },
  };
  const launch = async () => {
    out += `\n----- ${name} (re)started at ${new Date().toISOString()} -----\n`;
    let current = '';
    const c = spawnTs('src/server.ts', [], env);
    child = c;
    const take = (d: Buffer) => {
      out = (out + d.toString()).slice(-400_000);
      current = (current + d.toString()).slice(-100_000);
    };
    c.stdout.on('data', take);
    c.stderr.on('data', take);
    exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    const since = () => current;
    const ready = await waitUntil(() => !alive() || (role === 'api' ? /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(since()) : since().includes('workers started')), timeoutMs, 50);
    if (!ready || !alive()) {
      await proc.kill('SIGKILL');
      throw new Error(`${name} did not start:\n${out.slice(-4000)}`);
    }
    if (role === 'api') {
      proc.baseUrl = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(since())![1]!;
      // A restarted API comes back on the port it had, so clients keep their address.
      env = { ...env, PORT: new URL(proc.baseUrl).port };
    }
  };
  await launch();
  return proc;
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number | 'network';
  body: any;
  replayed: boolean;
}

async function call(url: string, init: RequestInit): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text
    }
    return { status: res.status, body, replayed: res.headers.get('idempotent-replayed') === 'true' };
  } catch {
    return { status: 'network', body: null, replayed: false };
  }
}

const admin = (body?: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: body === undefined ? 'GET' : 'POST',
  headers: { authorization: `Bearer ${LOAD_ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

export async function ready(baseUrl: string): Promise<number | 'network'> {
  return (await call(`${baseUrl}/ready`, { method: 'GET' })).status;
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver

export interface Receipt {
  count: number;
  eventId: string;
  type: string;
  verified: boolean;
}

export interface Receiver {
  url: string;
  /** By webhook-id. */
  receipts: Map<string, Receipt>;
  /** Set once the subscription exists (signatures are checked from then on). */
  secret: string | undefined;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receipts = new Map<string, Receipt>();
  const receiver: Receiver = { url: '', receipts, secret: undefined, close: async () => {} };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (data += c));
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
  const server: Server = createServer((req, res) => {
    void read(req).then((body) => {
      const id = String(req.headers['webhook-id'] ?? '');
      let verified = false;
      try {
        if (receiver.secret) {
          new Webhook(receiver.secret).verify(body, req.headers as Record<string, string>);
          verified = true;
        }
      } catch {
        verified = false;
      }
      let event: { id?: string; type?: string } = {};
      try {
        event = JSON.parse(body) as typeof event;
      } catch {
        // counted with an empty event id
      }
      const seen = receipts.get(id);
      if (seen) seen.count += 1;
      else receipts.set(id, { count: 1, eventId: event.id ?? '', type: event.type ?? '', verified });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

// ---------------------------------------------------------------------------------------------
// Setup: the subscription and the inbound source

export interface Tenant {
  signer: Webhook;
}

const MAPPING = {
  rules: [
    {
      name: 'load messages',
      intake: {
        kind: 'case_event',
        type: 'load.message',
        customer: '{ "external_id": data.account }',
        data: '{ "text": data.text }',
        external_refs: '{ "account": data.account }',
      },
    },
  ],
};

export async function setupTenant(baseUrl: string, receiver: Receiver): Promise<Tenant> {
  const sub = await call(`${baseUrl}/v1/webhook-subscriptions`, admin({ url: receiver.url, event_types: SUBSCRIBED, description: 'load receiver' }));
  if (sub.status !== 201) throw new Error(`subscription: ${sub.status} ${JSON.stringify(sub.body)}`);
  receiver.secret = (sub.body as { secret: string }).secret;
  const source = await call(`${baseUrl}/v1/inbound-sources`, admin({ key: 'load', mapping: MAPPING }));
  if (source.status !== 201) throw new Error(`inbound source: ${source.status} ${JSON.stringify(source.body)}`);
  return { signer: new Webhook((source.body as { secret: { secret: string } }).secret.secret) };
}

// ---------------------------------------------------------------------------------------------
// The load

type Outcome = 'acknowledged' | 'refused';

export interface LoadOptions {
  /** The API base URLs; requests go round-robin (a dead one's requests fail and are retried later). */
  apis: () => string[];
  tenant: Tenant;
  /** Concurrent command loops and inbound loops. */
  commandLoops?: number;
  inboundLoops?: number;
  /** A label that keeps keys unique across runs on one database. */
  label?: string;
  /** Pause of each loop after each send (paces the load below what a loaded machine drains). */
  pauseMs?: number;
}

export class MixedLoad {
  readonly commands = new Map<string, Outcome>();
  readonly inbound = new Map<string, { body: string; outcome: Outcome }>();
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private turn = 0;
  /** Acknowledged writes per API base URL (to show the load was spread). */
  readonly acknowledgedBy = new Map<string, number>();
  constructor(private readonly options: LoadOptions) {}

  private api(): string {
    const apis = this.options.apis();
    return apis[this.turn++ % apis.length]!;
  }

  private credit(api: string, outcome: Outcome): Outcome {
    if (outcome === 'acknowledged') this.acknowledgedBy.set(api, (this.acknowledgedBy.get(api) ?? 0) + 1);
    return outcome;
  }

  async sendCommand(key: string): Promise<Outcome> {
    const api = this.api();
    const a = await call(`${api}/v1/cases`, admin({ template: 'load-case', title: key, owner_id: 'loader' }, { 'idempotency-key': key }));
    const outcome: Outcome = a.status === 201 ? 'acknowledged' : 'refused';
    this.commands.set(key, outcome);
    return this.credit(api, outcome);
  }

  async sendInbound(id: string, body: string): Promise<Outcome> {
    const now = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.options.tenant.signer.sign(id, now, body),
    };
    const api = this.api();
    const a = await call(`${api}/v1/inbound/load`, { method: 'POST', headers, body });
    const outcome: Outcome = a.status === 202 ? 'acknowledged' : 'refused';
    this.inbound.set(id, { body, outcome });
    return this.credit(api, outcome);
  }

  start(): void {
    this.running = true;
    const label = this.options.label ?? 'load';
    for (let i = 0; i < (this.options.commandLoops ?? 4); i++) {
      this.loops.push(
        (async () => {
          while (this.running) {
            const outcome = await this.sendCommand(`${label}-cmd-${this.seq++}`);
            await sleep(outcome === 'refused' ? 200 : (this.options.pauseMs ?? 0)); // a down API: do not spin
          }
        })(),
      );
    }
    for (let i = 0; i < (this.options.inboundLoops ?? 2); i++) {
      this.loops.push(
        (async () => {
          while (this.running) {
            const n = this.seq++;
            const outcome = await this.sendInbound(`msg_${label}_${n}`, JSON.stringify({ type: 'message', data: { account: `${label}-acct-${n}`, text: `message ${n}` } }));
            await sleep(outcome === 'refused' ? 200 : (this.options.pauseMs ?? 0));
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops.splice(0));
  }

  /** Sends every refused write again (same key / webhook-id) until acknowledged or `timeoutMs` passes. */
  async settleRefused(timeoutMs = 120_000): Promise<{ retried: number; stillRefused: number }> {
    const deadline = Date.now() + timeoutMs;
    let retried = 0;
    for (;;) {
      const commands = [...this.commands].filter(([, o]) => o === 'refused').map(([k]) => k);
      const messages = [...this.inbound].filter(([, m]) => m.outcome === 'refused').map(([k, m]) => [k, m.body] as const);
      if (commands.length + messages.length === 0) return { retried, stillRefused: 0 };
      if (Date.now() > deadline) return { retried, stillRefused: commands.length + messages.length };
      for (const k of commands) {
        retried++;
        await this.sendCommand(k);
      }
      for (const [id, body] of messages) {
        retried++;
        await this.sendInbound(id, body);
      }
      await sleep(200);
    }
  }

  counts() {
    const acked = (m: Iterable<Outcome>) => [...m].filter((o) => o === 'acknowledged').length;
    return {
      commands: this.commands.size,
      commandsAcknowledged: acked(this.commands.values()),
      inbound: this.inbound.size,
      inboundAcknowledged: acked([...this.inbound.values()].map((m) => m.outcome)),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The audit

export interface Audit {
  commandsAcknowledged: number;
  commandsApplied: number;
  commandsLost: number;
  commandsDoubled: number;
  inboundAcknowledged: number;
  inboundApplied: number;
  inboundLost: number;
  inboundDoubled: number;
  /** Acknowledged messages whose row failed (kept with its error, retryable: POST /v1/inbox/:id/retry), by error code. */
  inboundFailed: Record<string, number>;
  cases: number;
  timersPending: number;
  timersFired: number;
  /** Cases whose timer fired more than once (journal `timer.fired` entries). */
  timersDoubled: number;
  /** Cases without their timer's effect. */
  timerEffectsLost: number;
  /** Fired before `due_at` by the database clock. */
  timersEarly: number;
  events: number;
  deliveries: number;
  deliveriesDelivered: number;
  deliveriesPending: number;
  deliveriesDead: number;
  /** Events of a subscribed type with no delivery, or whose delivery never reached the receiver. */
  deliveriesLost: number;
  /** Events that reached the receiver under two webhook-ids (a receiver deduplicating by webhook-id would act twice). */
  deliveriesDoubled: number;
  /** Receipts of a webhook-id already received (retries; deduplicated by webhook-id). */
  redeliveries: number;
  unverifiedReceipts: number;
}

export async function audit(databaseUrl: string, load: MixedLoad, receiver: Receiver): Promise<Audit> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await client.query<T>(text, values)).rows;
    const ackedCommands = [...load.commands].filter(([, o]) => o === 'acknowledged').map(([k]) => k);
    const byTitle = new Map((await q<{ title: string; n: number }>(`select title, count(*)::int as n from cases where title = any($1) group by title`, [ackedCommands])).map((r) => [r.title, r.n]));
    const allTitles = await q<{ n: number }>(`select count(*)::int as n from (select title from cases where customer_id is null group by title having count(*) > 1) d`);

    const ackedInbound = [...load.inbound].filter(([, m]) => m.outcome === 'acknowledged').map(([k]) => k);
    const inboxRows = await q<{ webhook_id: string; status: string; code: string | null }>(`select webhook_id, status, error->>'code' as code from inbox where webhook_id = any($1)`, [ackedInbound]);
    const inbox = new Map(inboxRows.map((r) => [r.webhook_id, r.status]));
    const inboundFailed: Record<string, number> = {};
    for (const r of inboxRows) if (r.status === 'failed') inboundFailed[r.code ?? 'unknown'] = (inboundFailed[r.code ?? 'unknown'] ?? 0) + 1;
    const perCustomer = await q<{ n: number; customers: number }>(
      `select count(*) filter (where n > 1)::int as n, count(*)::int as customers from (select customer_id, count(*) as n from cases where customer_id is not null group by customer_id) x`,
    );

    const timers = (await q<{ pending: number; fired: number; early: number }>(
      `select count(*) filter (where status = 'pending')::int as pending, count(*) filter (where status = 'fired')::int as fired,
              count(*) filter (where status = 'fired' and settled_at < due_at)::int as early from timers`,
    ))[0]!;
    const firings = (await q<{ doubled: number; missing: number; cases: number }>(
      `select count(*) filter (where f > 1)::int as doubled, count(*) filter (where not expired)::int as missing, count(*)::int as cases
       from (select c.id, coalesce((c.state #>> '{caseFile,waitExpired}')::boolean, false) as expired,
                    (select count(*) from journal j where j.case_id = c.id and j.type = 'timer.fired') as f
             from cases c) x`,
    ))[0]!;

    const deliveries = await q<{ id: string; status: string; outbox_id: string }>(`select id, status, outbox_id from webhook_deliveries`);
    const events = await q<{ id: string }>(`select id from outbox where type = any($1)`, [SUBSCRIBED]);
    const deliveredIds = new Set(deliveries.map((d) => d.outbox_id));
    const receivedIds = new Set(receiver.receipts.keys());
    const eventsNotDelivered = events.filter((e) => !deliveredIds.has(e.id)).length;
    const deliveriesNotReceived = deliveries.filter((d) => !receivedIds.has(d.id)).length;
    const webhookIdsPerEvent = new Map<string, number>();
    let redeliveries = 0;
    let unverified = 0;
    for (const r of receiver.receipts.values()) {
      webhookIdsPerEvent.set(r.eventId, (webhookIdsPerEvent.get(r.eventId) ?? 0) + 1);
      redeliveries += r.count - 1;
      if (!r.verified) unverified += 1;
    }

    return {
      commandsAcknowledged: ackedCommands.length,
      commandsApplied: ackedCommands.filter((k) => byTitle.get(k) === 1).length,
      commandsLost: ackedCommands.filter((k) => !byTitle.has(k)).length,
      commandsDoubled: allTitles[0]!.n,
      inboundAcknowledged: ackedInbound.length,
      inboundApplied: ackedInbound.filter((id) => inbox.get(id) === 'applied').length,
      inboundLost: ackedInbound.filter((id) => inbox.get(id) !== 'applied' && inbox.get(id) !== 'failed').length,
      inboundFailed,
      inboundDoubled: perCustomer[0]!.n,
      cases: firings.cases,
      timersPending: timers.pending,
      timersFired: timers.fired,
      timersDoubled: firings.doubled,
      timerEffectsLost: firings.missing,
      timersEarly: timers.early,
      events: events.length,
      deliveries: deliveries.length,
      deliveriesDelivered: deliveries.filter((d) => d.status === 'delivered').length,
      deliveriesPending: deliveries.filter((d) => d.status === 'pending').length,
      deliveriesDead: deliveries.filter((d) => d.status === 'dead').length,
      deliveriesLost: eventsNotDelivered + deliveriesNotReceived,
      deliveriesDoubled: [...webhookIdsPerEvent.values()].filter((n) => n > 1).length,
      redeliveries,
      unverifiedReceipts: unverified,
    };
  } finally {
    await client.end();
  }
}

/**
 * What an operator does with inbox rows that failed for a passing reason (the mapping sandbox's
 * time bound tripped on a starved CPU): `POST /v1/inbox/:id/retry`. Returns the rows retried.
 */
export async function retryFailedInbox(databaseUrl: string, baseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let ids: string[];
  try {
    ids = (await client.query<{ id: string }>(`select id from inbox where status = 'failed'`)).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
  let retried = 0;
  for (const id of ids) {
    const a = await call(`${baseUrl}/v1/inbox/${id}/retry`, admin({}));
    if (typeof a.status === 'number' && a.status >= 200 && a.status < 300) retried++;
  }
  return retried;
}

/** What is still pending (for a drain that did not finish). */
export async function backlog(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, number>>(
      `select (select count(*) from timers where status = 'pending')::int as timers, (select count(*) from inbox where status = 'received')::int as inbox,
              (select count(*) from webhook_deliveries where status = 'pending')::int as deliveries, (select count(*) from outbox where status <> 'dispatched')::int as outbox`,
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

/** Waits until no timer, inbox row or delivery is still pending (or `timeoutMs` passes). */
export async function drain(databaseUrl: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await waitUntil(async () => {
      const { rows } = await client.query<{ n: number }>(
        `select (select count(*) from timers where status = 'pending') + (select count(*) from inbox where status = 'received')
              + (select count(*) from webhook_deliveries where status = 'pending')
              + (select count(*) from outbox where status <> 'dispatched')::int as n`,
      );
      return Number(rows[0]!.n) === 0;
    }, timeoutMs, 250);
  } finally {
    await client.end();
  }
}

/** The audit's verdict: zero lost and zero doubled everywhere. */
export function clean(a: Audit): boolean {
  return (
    a.commandsLost === 0 && a.commandsDoubled === 0 && a.commandsApplied === a.commandsAcknowledged &&
    a.inboundLost === 0 && a.inboundDoubled === 0 && Object.keys(a.inboundFailed).length === 0 &&
    a.timersPending === 0 && a.timersDoubled === 0 && a.timerEffectsLost === 0 && a.timersEarly === 0 &&
    a.deliveriesLost === 0 && a.deliveriesDoubled === 0 && a.deliveriesPending === 0 && a.deliveriesDead === 0 &&
    a.unverifiedReceipts === 0
  );
}
