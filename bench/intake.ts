/**
 * Social intake benchmark, end to end against a real server process: `src/server.ts` (role all:
 * HTTP and BullMQ workers) spawned on 127.0.0.1 with a throwaway database and Redis prefix and the
 * shipped case-templates catalog. BENCH_POSTS (default 20,000) signed Standard Webhooks posts go to
 * the `social-listening` source from BENCH_CONCURRENCY (32) connections, from BENCH_CUSTOMERS (1,000)
 * known customers (CRM lifetime values spread over the base) plus new handles (BENCH_NEW_SHARE, 20%);
 * texts are complaints, praise and neutral chatter; BENCH_UPDATES (10%) are updates of an earlier post
 * with more reach. Each post takes the whole path: signature -> inbox row -> mapping (JSONata
 * sandbox) -> customer resolve-or-create -> typed content check -> sentiment -> the social-complaint
 * intake rules -> case opened (priority scored with its factors) or threaded, or recorded on the customer.
 *
 *   npm run bench:intake
 *   BENCH_POSTS=2000 npm run bench:intake
 *
 * Reported: accepted/s and accept latency; posts/s applied (rows applied over the span from the
 * first receipt to the last application); accept -> applied p50/p99 (applied_at - received_at);
 * outcomes (opened, threaded, recorded); sentiment cost per post (the same analyzer over the same
 * texts, in this process); `lost` (accepted rows not applied). The last line is one JSON object.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { applyCustomerCommand } from '../src/commands/apply-customer-command.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createSentimentAnalyzer, loadWinkModel } from '../src/signals/sentiment.js';
import { createBenchDatabase, deleteRedisPrefix, percentile, round } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTS = Number(process.env.BENCH_POSTS ?? 20_000);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1_000);
const NEW_SHARE = Number(process.env.BENCH_NEW_SHARE ?? 0.2);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 0.1);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const DRAIN_S = Number(process.env.BENCH_DRAIN_S ?? 1_800);
const ADMIN_KEY = randomBytes(24).toString('hex');
const logger = pino({ level: 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NEGATIVE = [
  'Third outage this week. Not happy at all, I want a refund!',
  'Worst support ever, nobody answers and my order never arrived.',
  'You overcharged me again. This is a scam.',
  'The app keeps crashing and I lost my data. Terrible.',
  'Still waiting for my money back, absolutely furious 😡',
];
const POSITIVE = ['Love the new update, thank you so much!', 'Great service today, the agent was brilliant 👏', 'Best purchase this year, really happy with it.'];
const NEUTRAL = ['Does anyone know when the store opens?', 'Just ordered the blue one.', 'Thinking about switching plans.'];

const MAPPING = {
  rules: [
    {
      name: 'post updates',
      when: "type = 'post.updated'",
      intake: {
        kind: 'social_post',
        type: 'social.post.updated',
        customer: '{ "channel": post.channel, "handle": post.author }',
        data: '{ "channel": post.channel, "post_id": post.id, "author_handle": post.author, "text": post.text, "reach": post.reach, "followers": post.followers, "engagements": post.engagements }',
        external_refs: '{ "post_id": post.id }',
      },
    },
    {
      name: 'posts',
      when: "type = 'post.created'",
      intake: {
        kind: 'social_post',
        type: 'social.post.created',
        customer: '{ "channel": post.channel, "handle": post.author }',
        data: '{ "channel": post.channel, "post_id": post.id, "author_handle": post.author, "text": post.text, "reach": post.reach, "followers": post.followers, "engagements": post.engagements }',
        external_refs: '{ "post_id": post.id }',
      },
    },
  ],
};

function startServer(env: Record<string, string>): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', path.join(ROOT, 'src/server.ts')], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not listen:\n${out}`));
    }, 180_000);
    child.stdout.on('data', () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out.slice(-4000)}`));
    });
  });
}

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const prefix = `tessera-bench-intake-${randomBytes(4).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: 8 });
  let server: { url: string; stop: () => Promise<void> } | undefined;
  try {
    await migrateToLatest(database.db);
    // The customer base: lifetime values spread log-uniformly from 50 to 500,000.
    for (let i = 0; i < CUSTOMERS; i++) {
      const value = Math.round(50 * 10 ** (4 * (i / CUSTOMERS)));
      await database.db.transaction().execute((trx) =>
        applyCustomerCommand(trx, {
          command: {
            type: 'customer.create',
            input: {
              profile: { name: `Customer ${i}` },
              identities: [{ kind: 'handle', channel: 'x', value: `@c${i}` }],
              metrics: { lifetimeValue: { value, asOf: '2026-11-01T00:00:00Z', source: 'crm' } },
            },
          },
          actor: { id: 'bench', role: 'system' },
        }),
      );
    }
    server = await startServer({
      DATABASE_URL: bench.url,
      REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_ADMIN_KEY: ADMIN_KEY,
      TESSERA_SECRET_KEY: randomBytes(32).toString('base64'),
      TESSERA_TEMPLATES_DIR: path.join(ROOT, 'case-templates'),
      TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE: '10000000',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    const base = server.url;
    const created = await fetch(`${base}/v1/inbound-sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'social-listening', mapping: MAPPING }),
    });
    if (created.status !== 201) throw new Error(`creating the source: ${created.status} ${await created.text()}`);
    const signer = new Webhook(((await created.json()) as { secret: { secret: string } }).secret.secret);

    // The posts: who, what, how far it reached; updates re-send an earlier post with more reach.
    const bodies: { id: string; body: string; text: string }[] = [];
    const earlier: { id: string; author: string; text: string; reach: number }[] = [];
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < POSTS; i++) {
      if (earlier.length > 0 && rnd() < UPDATES) {
        const p = earlier[Math.floor(rnd() * earlier.length)]!;
        p.reach = Math.round(p.reach * (2 + rnd() * 8));
        const body = JSON.stringify({ type: 'post.updated', post: { channel: 'x', id: p.id, author: p.author, text: p.text, reach: p.reach, followers: 1000, engagements: Math.round(p.reach / 20) } });
        bodies.push({ id: `msg_${randomUUID()}`, body, text: p.text });
        continue;
      }
      const author = rnd() < NEW_SHARE ? `@new${i}` : `@c${Math.floor(rnd() * CUSTOMERS)}`;
      const r = rnd();
      const pool = r < 0.5 ? NEGATIVE : r < 0.8 ? POSITIVE : NEUTRAL;
      const text = `${pool[Math.floor(rnd() * pool.length)]!} #${i}`;
      const reach = Math.round(10 ** (1 + rnd() * 3.5));
      const p = { id: `post-${i}`, author, text, reach };
      earlier.push(p);
      const body = JSON.stringify({ type: 'post.created', post: { channel: 'x', id: p.id, author, text, reach, followers: 1000, engagements: Math.round(reach / 50) } });
      bodies.push({ id: `msg_${randomUUID()}`, body, text });
    }

    const acceptLatencies: number[] = [];
    let refused = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= bodies.length) return;
          const m = bodies[i]!;
          const now = new Date();
          const t0 = performance.now();
          const res = await fetch(`${base}/v1/inbound/social-listening`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'webhook-id': m.id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signer.sign(m.id, now, m.body) },
            body: m.body,
          });
          await res.arrayBuffer();
          acceptLatencies.push(performance.now() - t0);
          if (res.status !== 202) refused++;
        }
      }),
    );
    const acceptSeconds = (performance.now() - started) / 1000;
    acceptLatencies.sort((a, b) => a - b);
    console.log(`accepted ${bodies.length - refused} posts in ${round(acceptSeconds)} s: ${round((bodies.length - refused) / acceptSeconds)}/s (p50 ${round(percentile(acceptLatencies, 50))} ms, p99 ${round(percentile(acceptLatencies, 99))} ms), ${refused} refused`);

    const deadline = Date.now() + DRAIN_S * 1000;
    for (;;) {
      const pending = await database.db.selectFrom('inbox').select(sql<number>`count(*)::int`.as('n')).where('status', '=', 'received').executeTakeFirstOrThrow();
      if (pending.n === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    const stats = await sql<{ n: number; p50: number; p99: number; first_received: Date; last_applied: Date }>`
      select count(*)::int as n,
             percentile_cont(0.5) within group (order by extract(epoch from applied_at - received_at) * 1000) as p50,
             percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at) * 1000) as p99,
             min(received_at) as first_received, max(applied_at) as last_applied
      from inbox where status = 'applied'`.execute(database.db);
    const s = stats.rows[0]!;
    const outcomes = await sql<{ status: string; outcome: string | null; n: number }>`
      select status, result ->> 'outcome' as outcome, count(*)::int as n from inbox group by 1, 2 order by 1, 2`.execute(database.db);
    const by = Object.fromEntries(outcomes.rows.map((r) => [`${r.status}${r.outcome ? `:${r.outcome}` : ''}`, r.n]));
    const counts = await sql<{ cases: number; posts: number; escalated: number; scored: number }>`
      select (select count(*)::int from cases) as cases, (select count(*)::int from content where kind = 'social_post') as posts,
             (select count(*)::int from journal where type = 'case.escalated') as escalated,
             (select count(*)::int from cases where state ? 'priorityInfo') as scored`.execute(database.db);
    const c = counts.rows[0]!;
    const pending = by['received'] ?? 0;
    const spanS = s.last_applied ? (new Date(s.last_applied).getTime() - new Date(s.first_received).getTime()) / 1000 : 0;

    // Sentiment cost per post: the server's analyzer (same model, same lexicon) over the same texts.
    const analyzer = createSentimentAnalyzer(loadWinkModel());
    for (const b of bodies.slice(0, 200)) analyzer.analyze(b.text); // warm up
    const t0 = performance.now();
    for (const b of bodies) analyzer.analyze(b.text);
    const sentimentUs = ((performance.now() - t0) * 1000) / bodies.length;

    console.log(
      `applied ${s.n} at ${round(s.n / Math.max(spanS, 0.001))} posts/s; accept -> applied p50 ${round(s.p50 ?? 0)} ms, p99 ${round(s.p99 ?? 0)} ms; ` +
        `outcomes ${JSON.stringify(by)}; ${c.cases} cases (${c.scored} scored), ${c.posts} posts on cases, ${c.escalated} reach escalations; sentiment ${round(sentimentUs)} µs/post; lost ${pending}`,
    );
    console.log(
      JSON.stringify({
        posts_sent: bodies.length,
        concurrency: CONCURRENCY,
        customers: CUSTOMERS,
        accepted_per_s: round((bodies.length - refused) / acceptSeconds),
        accept_p50_ms: round(percentile(acceptLatencies, 50), 2),
        accept_p99_ms: round(percentile(acceptLatencies, 99), 2),
        refused,
        applied: s.n,
        posts_per_s: round(s.n / Math.max(spanS, 0.001)),
        applied_p50_ms: round(s.p50 ?? 0),
        applied_p99_ms: round(s.p99 ?? 0),
        opened: by['applied:opened'] ?? 0,
        threaded: by['applied:threaded'] ?? 0,
        recorded: by['applied:recorded'] ?? 0,
        failed: by['failed'] ?? 0,
        cases: c.cases,
        reach_escalations: c.escalated,
        sentiment_us_per_post: round(sentimentUs, 1),
        lost: pending,
      }),
    );
  } finally {
    await server?.stop();
    await database.close();
    await deleteRedisPrefix(REDIS_URL, prefix);
    await bench.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
