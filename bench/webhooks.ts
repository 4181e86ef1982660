/**
 * Inbound webhook benchmark, end to end over HTTP: a real server on 127.0.0.1 (buildApp + listen)
 * with BullMQ workers in the same process, on a throwaway database and Redis prefix. It posts
 * BENCH_WEBHOOKS (default 20,000) signed Standard Webhooks messages from BENCH_CONCURRENCY (32)
 * connections: for BENCH_ACCOUNTS (2,000) accounts, the first message of an account opens a case
 * through the bench-case template's intake rule and the later ones thread into it as notes; BENCH_DUPLICATES (5%) of the sends
 * repeat an earlier message (same webhook-id and body, as a sender's retry would).
 *
 *   npm run bench:webhooks
 *   BENCH_WEBHOOKS=5000 BENCH_CONCURRENCY=16 npm run bench:webhooks
 *   BENCH_APPLY_AFTER=1 npm run bench:webhooks   (workers start after the accept phase)
 *
 * Reported: accepted/s (first-time 202s: verified, deduplicated, durably stored) and the accept
 * latency; duplicates answered; accept -> applied latency p50/p99 (applied_at - received_at of
 * each inbox row) and applied/s; `lost` (rows not applied, or 202s without a row); and the
 * exactly-once check (one case per account, one note per message).
 * Messages are signed as they are sent (a long run outlasts the 5-minute window).
 * The last line is one JSON object.
 */
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { createBullmqJobQueue } from '../src/platform/bullmq-job-queue.js';
import { openDatabase } from '../src/platform/database.js';
import { createSecretBox } from '../src/platform/secret-box.js';
import { startWorkers, type Workers } from '../src/worker.js';
import { createBenchDatabase, deleteRedisPrefix, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 20_000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const DUPLICATES = Number(process.env.BENCH_DUPLICATES ?? 0.05);
const POOL = Number(process.env.BENCH_POOL ?? 32);
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
/** 1: workers start only after the accept phase (accept and apply capacity measured apart). */
const APPLY_AFTER = process.env.BENCH_APPLY_AFTER === '1';
const DRAIN_S = Number(process.env.BENCH_DRAIN_S ?? 300);
const ADMIN_KEY = randomBytes(24).toString('hex');

const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MAPPING = {
  rules: [
    {
      name: 'account notes',
      intake: {
        kind: 'case_event',
        type: 'account.note',
        customer: '{ "external_id": data.account }',
        data: '{ "text": "note " & $string(data.n) }',
        external_refs: '{ "account": data.account }',
      },
    },
  ],
};

interface Message {
  id: string;
  body: string;
}

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: POOL });
  const jobs = createBullmqJobQueue({ redisUrl: REDIS_URL, prefix, logger });
  let workers: Workers | undefined;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    await migrateToLatest(database.db);
    const core = await assembleCore({ database, jobs, logger, templatesDir: path.resolve(import.meta.dirname, 'catalog') });
    const secrets = createSecretBox(randomBytes(32));
    const config = loadConfig({ DATABASE_URL: bench.url, REDIS_URL, TESSERA_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'warn', TESSERA_SECRET_KEY: randomBytes(32).toString('base64') });
    app = await buildApp({ config, logger, database, jobs, secrets, core });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const start = async () => {
      workers = await startWorkers({ database, jobs, secrets, close: async () => {} }, core, logger, { inboxConcurrency: WORKER_CONCURRENCY });
    };
    if (!APPLY_AFTER) await start();

    const created = await fetch(`${base}/v1/inbound-sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'bench', mapping: MAPPING }),
    });
    if (created.status !== 201) throw new Error(`creating the source: ${created.status} ${await created.text()}`);
    const signer = new Webhook(((await created.json()) as { secret: { secret: string } }).secret.secret);

    // The messages; a duplicate is an earlier message sent again (re-signed, as a sender's retry is).
    const messages: Message[] = [];
    const sends: Message[] = [];
    for (let i = 0; i < WEBHOOKS; i++) {
      if (messages.length > 0 && Math.random() < DUPLICATES) {
        sends.push(messages[Math.floor(Math.random() * messages.length)]!);
        continue;
      }
      const m = { id: `msg_${randomUUID()}`, body: JSON.stringify({ type: 'note', data: { account: `acct-${i % ACCOUNTS}`, n: i } }) };
      messages.push(m);
      sends.push(m);
    }
    console.log(`${messages.length} messages, ${sends.length - messages.length} duplicate sends, apply ${APPLY_AFTER ? 'after' : 'during'} the accept phase`);
    // Signed at send time: a long run outlasts the 5-minute window (~65 µs per message, client side).
    const signed = (m: Message) => {
      const now = new Date();
      return { 'content-type': 'application/json', 'webhook-id': m.id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signer.sign(m.id, now, m.body) };
    };

    const acceptLatencies: number[] = [];
    const accepted = new Set<string>();
    let replayed = 0;
    let refused = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= sends.length) return;
          const m = sends[i]!;
          const t0 = performance.now();
          const headers = signed(m);
          const res = await fetch(`${base}/v1/inbound/bench`, { method: 'POST', headers, body: m.body });
          const answer = (await res.json()) as { id: string };
          acceptLatencies.push(performance.now() - t0);
          if (res.status !== 202) refused++;
          else if (res.headers.get('idempotent-replayed') === 'true') replayed++;
          else accepted.add(answer.id);
        }
      }),
    );
    const acceptSeconds = (performance.now() - started) / 1000;
    acceptLatencies.sort((a, b) => a - b);
    console.log(
      `accepted ${accepted.size} in ${round(acceptSeconds)} s: ${round(accepted.size / acceptSeconds)}/s ` +
        `(p50 ${round(percentile(acceptLatencies, 50))} ms, p99 ${round(percentile(acceptLatencies, 99))} ms), ` +
        `${replayed} duplicates answered with the first answer, ${refused} refused`,
    );

    if (APPLY_AFTER) await start();
    // Drain: wait until no row is still received.
    const deadline = Date.now() + DRAIN_S * 1000;
    for (;;) {
      const pending = await database.db.selectFrom('inbox').select(sql<number>`count(*)::int`.as('n')).where('status', '=', 'received').executeTakeFirstOrThrow();
      if (pending.n === 0 || Date.now() > deadline) break;
      await sleep(250);
    }

    const outcome = await sql<{ status: string; n: number; p50: number | null; p99: number | null; first_received: Date; last_applied: Date | null }>`
      select status, count(*)::int as n,
             percentile_cont(0.5) within group (order by extract(epoch from applied_at - received_at) * 1000) as p50,
             percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at) * 1000) as p99,
             min(received_at) as first_received, max(applied_at) as last_applied
      from inbox group by status`.execute(database.db);
    const byStatus = Object.fromEntries(outcome.rows.map((r) => [r.status, r]));
    const applied = byStatus['applied'];
    const rowIds = new Set((await database.db.selectFrom('inbox').select('id').execute()).map((r) => r.id));
    const missing = [...accepted].filter((id) => !rowIds.has(id)).length;
    const lost = missing + (byStatus['received']?.n ?? 0);
    const appliedSeconds = applied?.last_applied ? (new Date(applied.last_applied).getTime() - new Date(applied.first_received).getTime()) / 1000 : 0;

    // Exactly once: one case per account, one note per message.
    const accounts = new Set(messages.map((m) => (JSON.parse(m.body) as { data: { account: string } }).data.account)).size;
    const check = await sql<{ cases: number; events: number }>`
      select (select count(*)::int from cases) as cases,
             (select count(*)::int from content where kind = 'note') as events`.execute(database.db);
    const { cases, events } = check.rows[0]!;
    const exactlyOnce = cases === accounts && events === messages.length;

    console.log(
      `applied ${applied?.n ?? 0} (${Object.entries(byStatus).map(([s, r]) => `${s} ${r.n}`).join(', ')}) ` +
        `at ${round((applied?.n ?? 0) / Math.max(appliedSeconds, 0.001))}/s; accept -> applied p50 ${round(applied?.p50 ?? 0)} ms, p99 ${round(applied?.p99 ?? 0)} ms; ` +
        `lost ${lost}; ${cases} cases for ${accounts} accounts, ${events} notes for ${messages.length} messages (${exactlyOnce ? 'exactly once' : 'MISMATCH'})`,
    );
    console.log(
      JSON.stringify({
        webhooks_sent: sends.length,
        apply: APPLY_AFTER ? 'after_accept' : 'during_accept',
        concurrency: CONCURRENCY,
        accepted: accepted.size,
        accepted_per_s: round(accepted.size / acceptSeconds),
        accept_p50_ms: round(percentile(acceptLatencies, 50), 2),
        accept_p99_ms: round(percentile(acceptLatencies, 99), 2),
        duplicates_answered: replayed,
        refused,
        applied: applied?.n ?? 0,
        applied_per_s: round((applied?.n ?? 0) / Math.max(appliedSeconds, 0.001)),
        applied_p50_ms: round(applied?.p50 ?? 0),
        applied_p99_ms: round(applied?.p99 ?? 0),
        unmatched: byStatus['unmatched']?.n ?? 0,
        failed: byStatus['failed']?.n ?? 0,
        lost,
        exactly_once: exactlyOnce,
      }),
    );
  } finally {
    await app?.close();
    await workers?.close();
    await jobs.close();
    await database.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
