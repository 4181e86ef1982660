/**
 * THE REGISTRY OF PLACES WHERE PERSONAL DATA LIVES. Export (right of access) and erasure (right
 * to erasure, retention) both walk this one list; nothing else in Tessera knows where a
 * customer's data is. A table (or a Redis key family) that can hold what a customer said or who
 * they are MUST have an entry here, or erasure will leave it behind — and the canary test
 * (test/privacy/erasure-canary.test.ts) fails when a planted value survives in `pg_dump`.
 *
 * To add a place: append an entry with a unique `name` (it is stored in `erasures.steps_done`, so
 * never rename one), `holds` (what lives there, for the README), `export` (its rows for the
 * subject) and `erase` (mask or delete them; idempotent: a second run changes nothing).
 * ORDER MATTERS: the subject's personal strings are re-read from the source places (cases,
 * content, tasks, customers) at every run, so a run resumed after a crash still knows them —
 * derived copies come first, the sources last.
 *
 * Masking keeps the skeleton (ids, types, states, keys, times, numbers): see mask.ts.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../persistence/schema.js';
import type { JobQueue } from '../platform/job-queue.js';
import { QUEUES } from '../jobs/queues.js';
import { ERASED, maskJson, type PersonalStrings } from './mask.js';

export interface Subject {
  /** The customer and those merged into it; empty for a retention erasure of some cases only. */
  customerIds: string[];
  caseIds: string[];
  personal: PersonalStrings;
  /** `ilike` patterns of the personal strings, to find copies outside the subject's own rows. */
  patterns: string[];
}

export interface PlaceContext {
  jobs: JobQueue;
}

export interface PersonalDataPlace {
  name: string;
  holds: string;
  /** Only for a customer erasure (not a retention pass over some of a customer's cases). */
  customerOnly?: boolean;
  export(db: Kysely<Database>, subject: Subject): Promise<unknown[]>;
  /** Runs in its own transaction (journal rows: one that allows their erasure). Returns rows changed. */
  erase(trx: Transaction<Database>, subject: Subject, ctx: PlaceContext): Promise<number>;
}

type Db = Kysely<Database>;

/** Masks JSON and text columns of the rows `where` selects, one row at a time; returns rows changed. */
async function maskRows(
  trx: Db,
  table: string,
  keys: string[],
  columns: { json?: string[]; text?: string[]; nullify?: string[]; set?: Record<string, string> },
  where: RawBuilder<unknown>,
  personal: PersonalStrings,
): Promise<number> {
  const json = columns.json ?? [];
  const text = columns.text ?? [];
  const nullify = columns.nullify ?? [];
  const set = columns.set ?? {};
  const cols = [...keys, ...json, ...text, ...nullify, ...Object.keys(set)];
  const rows = (await sql<Record<string, unknown>>`select ${sql.join(cols.map((c) => sql.ref(c)))} from ${sql.table(table)} where ${where}`.execute(trx)).rows;
  let changed = 0;
  for (const row of rows) {
    const assignments: RawBuilder<unknown>[] = [];
    for (const c of json) {
      if (row[c] === null || row[c] === undefined) continue;
      const masked = JSON.stringify(maskJson(row[c], personal));
      if (masked !== JSON.stringify(row[c])) assignments.push(sql`${sql.ref(c)} = ${masked}::jsonb`);
    }
    for (const c of text) if (row[c] !== null && row[c] !== ERASED) assignments.push(sql`${sql.ref(c)} = ${ERASED}`);
    for (const c of nullify) if (row[c] !== null) assignments.push(sql`${sql.ref(c)} = null`);
    for (const [c, v] of Object.entries(set)) if (row[c] !== v) assignments.push(sql`${sql.ref(c)} = ${v}`);
    if (assignments.length === 0) continue;
    const match = sql.join(keys.map((k) => sql`${sql.ref(k)} = ${row[k]}`), sql` and `);
    await sql`update ${sql.table(table)} set ${sql.join(assignments)} where ${match}`.execute(trx);
    changed++;
  }
  return changed;
}

const anyCase = (s: Subject) => sql`case_id = any(${s.caseIds}::text[])`;
const anyCustomer = (s: Subject) => sql`customer_id = any(${s.customerIds}::text[])`;
/** Rows of the subject's cases or customers (a table with both columns). */
const ofSubject = (s: Subject) => sql`(${anyCase(s)} or ${anyCustomer(s)})`;
/** A JSON column holding any of the subject's personal strings (a scan: erasure is rare, and runs in the background). */
const mentions = (column: string, s: Subject) => (s.patterns.length === 0 ? sql`false` : sql`${sql.ref(column)}::text ilike any(${s.patterns}::text[])`);

const rowsOf = async (db: Db, table: string, where: RawBuilder<unknown>) => (await sql<Record<string, unknown>>`select * from ${sql.table(table)} where ${where}`.execute(db)).rows;

/** Attempts of the deliveries of the subject's outbound events. */
const deliveriesOf = (s: Subject) =>
  sql`delivery_id in (select d.id from webhook_deliveries d join outbox o on o.id = d.outbox_id where o.case_id = any(${s.caseIds}::text[]) or o.customer_id = any(${s.customerIds}::text[]))`;

/** Inbox rows of the subject: applied to their cases, or mentioning them (recorded on the customer, unmatched). */
const inboxOf = (s: Subject) => sql`(${anyCase(s)} or ${mentions('payload', s)} or ${mentions('result', s)})`;

export const PERSONAL_DATA_PLACES: readonly PersonalDataPlace[] = [
  {
    name: 'redis_jobs',
    holds: 'BullMQ jobs carry row ids only (never payloads); the subject\'s remaining timer, outbox and inbox jobs are removed anyway',
    export: async () => [],
    async erase(trx, s, ctx) {
      if (!ctx.jobs.forget) return 0;
      const timers = await sql<{ id: string }>`select id from timers where ${anyCase(s)}`.execute(trx);
      const outbox = await sql<{ id: string }>`select id from outbox where ${ofSubject(s)}`.execute(trx);
      const inbox = await sql<{ id: string }>`select id from inbox where ${inboxOf(s)}`.execute(trx);
      return (
        (await ctx.jobs.forget(QUEUES.timers, timers.rows.map((r) => r.id))) +
        (await ctx.jobs.forget(QUEUES.outbox, outbox.rows.map((r) => r.id))) +
        (await ctx.jobs.forget(QUEUES.inbox, inbox.rows.map((r) => r.id)))
      );
    },
  },
  {
    name: 'journal',
    holds: 'case journal: command inputs (case file changes, content, task outputs, reasons)',
    export: (db, s) => rowsOf(db, 'journal', sql`${anyCase(s)} order by case_id, version, idx`),
    erase: (trx, s) => maskRows(trx, 'journal', ['case_id', 'version', 'idx'], { json: ['data'], text: ['reason'] }, anyCase(s), s.personal),
  },
  {
    name: 'journal_commands',
    holds: 'the command records plan-as-of and conformance replay (command inputs, the customer as CEL read it)',
    export: (db, s) => rowsOf(db, 'journal_commands', sql`${anyCase(s)} order by case_id, version`),
    // Replay tolerates masked values (history/replay-case.ts): a step that no longer decides the
    // same way ends the fold there, and the answer says so.
    erase: (trx, s) => maskRows(trx, 'journal_commands', ['case_id', 'version'], { json: ['record'] }, anyCase(s), s.personal),
  },
  {
    name: 'webhook_attempts',
    holds: 'outbound webhook attempts: the receiver\'s answer body (which may echo what was sent)',
    export: (db, s) => rowsOf(db, 'webhook_delivery_attempts', deliveriesOf(s)),
    erase: (trx, s) => maskRows(trx, 'webhook_delivery_attempts', ['delivery_id', 'n'], { nullify: ['response_body'] }, deliveriesOf(s), s.personal),
  },
  {
    name: 'outbox',
    holds: 'outbound events (the bodies every webhook delivery signs and sends)',
    export: (db, s) => rowsOf(db, 'outbox', sql`${ofSubject(s)} order by seq`),
    erase: (trx, s) => maskRows(trx, 'outbox', ['id'], { json: ['data'] }, ofSubject(s), s.personal),
  },
  {
    name: 'inbox',
    holds: 'inbound webhook payloads, their results and correlation keys (handles, order ids)',
    export: (db, s) => rowsOf(db, 'inbox', sql`${inboxOf(s)} order by seq`),
    erase: (trx, s) => maskRows(trx, 'inbox', ['id'], { json: ['payload', 'result', 'error'], nullify: ['correlation_key'] }, sql`${inboxOf(s)} and status <> 'received'`, s.personal),
  },
  {
    name: 'idempotency_keys',
    holds: 'stored answers replayed to repeated writes (case and customer views), and the request hashes',
    export: (db, s) => rowsOf(db, 'idempotency_keys', sql`${anyCase(s)} or ${mentions('response', s)}`),
    // The hash of a request is a fingerprint of its personal data: replaced, so the key can never
    // be replayed into a new write either (same key, any body: 422). A key the client built from
    // personal data (`case-jane@example.com`) is replaced by its hash.
    async erase(trx, s) {
      const where = sql`${anyCase(s)} or ${mentions('response', s)}`;
      // Read before masking: afterwards the answers no longer mention the subject.
      const keys = await sql<{ owner: string; key: string }>`select owner, key from idempotency_keys where ${where}`.execute(trx);
      const changed = await maskRows(trx, 'idempotency_keys', ['owner', 'key'], { json: ['response'], nullify: ['response_sealed'], set: { request_hash: 'erased' } }, where, s.personal);
      for (const k of keys.rows) {
        if (!s.personal.found(k.key)) continue;
        const hashed = `erased-${createHash('sha256').update(k.key).digest('hex').slice(0, 32)}`;
        await sql`update idempotency_keys set key = ${hashed} where owner = ${k.owner} and key = ${k.key}`.execute(trx);
      }
      return changed;
    },
  },
  {
    name: 'goal_views',
    holds: 'goal view rows: the case title',
    export: (db, s) => rowsOf(db, 'goal_views', anyCase(s)),
    erase: (trx, s) => maskRows(trx, 'goal_views', ['case_id', 'goal_key'], { text: ['case_title'] }, anyCase(s), s.personal),
  },
  {
    name: 'case_keys',
    holds: 'correlation keys of cases (external references, customer handles)',
    export: (db, s) => rowsOf(db, 'case_keys', anyCase(s)),
    async erase(trx, s) {
      const r = await sql`delete from case_keys where ${anyCase(s)}`.execute(trx);
      return Number(r.numAffectedRows ?? 0);
    },
  },
  {
    name: 'timers',
    holds: 'timer rows: the delayed XState event (may carry case data)',
    export: (db, s) => rowsOf(db, 'timers', anyCase(s)),
    erase: (trx, s) => maskRows(trx, 'timers', ['id'], { json: ['event'] }, anyCase(s), s.personal),
  },
  {
    name: 'customer_activity',
    holds: 'the customer\'s activity history (purchases, contacts): references and details',
    customerOnly: true,
    export: (db, s) => rowsOf(db, 'customer_activity', sql`${anyCustomer(s)} order by at`),
    erase: (trx, s) => maskRows(trx, 'customer_activity', ['id'], { json: ['data'], nullify: ['ref'] }, anyCustomer(s), s.personal),
  },
  {
    name: 'customer_journal',
    holds: 'the customer journal: identities, profile and activity as recorded',
    customerOnly: true,
    export: (db, s) => rowsOf(db, 'customer_journal', sql`${anyCustomer(s)} order by customer_id, version, idx`),
    erase: (trx, s) => maskRows(trx, 'customer_journal', ['customer_id', 'version', 'idx'], { json: ['data'], text: ['reason'] }, sql`${anyCustomer(s)} and type <> 'customer.erased'`, s.personal),
  },
  {
    name: 'customer_timers',
    holds: 'behaviour-deviation trip wires: what they counted from',
    customerOnly: true,
    export: (db, s) => rowsOf(db, 'customer_timers', anyCustomer(s)),
    erase: (trx, s) => maskRows(trx, 'customer_timers', ['id'], { json: ['basis'] }, anyCustomer(s), s.personal),
  },
  // ---- Sources of the subject's personal strings: keep these last (see the header). ----
  {
    name: 'content_revisions',
    holds: 'every version of a social post: text, author, URL',
    export: (db, s) => rowsOf(db, 'content_revisions', sql`${anyCase(s)} order by content_id, revision`),
    erase: (trx, s) => maskRows(trx, 'content_revisions', ['content_id', 'revision'], { json: ['data', 'analysis'] }, anyCase(s), s.personal),
  },
  {
    name: 'content',
    holds: 'case content: notes, posts, CRM profiles, attachments (links)',
    export: (db, s) => rowsOf(db, 'content', sql`${anyCase(s)} order by added_at`),
    erase: (trx, s) => maskRows(trx, 'content', ['id'], { json: ['data', 'analysis'] }, anyCase(s), s.personal),
  },
  {
    name: 'tasks',
    holds: 'tasks: titles and the outputs workers entered',
    export: (db, s) => rowsOf(db, 'tasks', sql`${anyCase(s)} order by opened_at`),
    erase: (trx, s) => maskRows(trx, 'tasks', ['id'], { json: ['body'] }, anyCase(s), s.personal),
  },
  {
    name: 'cases',
    holds: 'the case aggregate: title, customer reference, external refs, case file, posts, open tasks, handoff brief',
    export: (db, s) => rowsOf(db, 'cases', sql`id = any(${s.caseIds}::text[]) order by opened_at`),
    async erase(trx, s) {
      // Under the row lock: a command running now cannot write its older copy back afterwards.
      await sql`select id from cases where id = any(${s.caseIds}::text[]) order by id for update`.execute(trx);
      const changed = await maskRows(trx, 'cases', ['id'], { json: ['state'], text: ['title'] }, sql`id = any(${s.caseIds}::text[])`, s.personal);
      await sql`update cases set erased_at = now() where id = any(${s.caseIds}::text[]) and erased_at is null`.execute(trx);
      return changed;
    },
  },
  {
    name: 'customer_identities',
    holds: 'the customer\'s identities (e-mails, phones, handles) and external ids',
    customerOnly: true,
    export: async (db, s) => [...(await rowsOf(db, 'customer_identities', anyCustomer(s))), ...(await rowsOf(db, 'customer_external_ids', anyCustomer(s)))],
    async erase(trx, s) {
      const a = await sql`delete from customer_identities where ${anyCustomer(s)}`.execute(trx);
      const b = await sql`delete from customer_external_ids where ${anyCustomer(s)}`.execute(trx);
      return Number(a.numAffectedRows ?? 0) + Number(b.numAffectedRows ?? 0);
    },
  },
  {
    name: 'customers',
    holds: 'the customer aggregate: name, identities, profile, metrics, activity summary',
    customerOnly: true,
    export: (db, s) => rowsOf(db, 'customers', sql`id = any(${s.customerIds}::text[])`),
    async erase(trx, s) {
      await sql`select id from customers where id = any(${s.customerIds}::text[]) order by id for update`.execute(trx);
      return maskRows(trx, 'customers', ['id'], { json: ['state'], nullify: ['name'] }, sql`id = any(${s.customerIds}::text[])`, s.personal);
    },
  },
];
