/**
 * Read side of customers: the keyset-paged list with its filters, and the parts of the 360 view
 * (cases, posts, activity, journal). Rows are mapped to plain objects here.
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { visibleCase, type Viewer } from './case-queries.js';
import type { CaseState } from '../cases/types.js';
import type { NormalisedIdentity } from '../customers/identity.js';
import type { CustomerState } from '../customers/types.js';
import type { Database } from './schema.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface CustomerFilters {
  /** A handle without a channel (`channel` undefined) matches the handle on any channel. */
  identity?: Omit<NormalisedIdentity, 'channel'> & { channel?: string };
  external?: { system: string; id: string };
  segment?: string;
  tier?: string;
  /** Default: active customers only; `merged` lists tombstones. */
  status?: 'active' | 'merged';
  /** Agents: only customers of a case they may see (the case rule, persistence/case-queries.ts). */
  visibleTo?: Viewer;
}

type TimeCursor = { t: string; id: string };

/** Newest first. */
export async function listCustomers(db: Kysely<Database>, filters: CustomerFilters, cursor: TimeCursor | undefined, limit: number) {
  let q = db.selectFrom('customers as c').select(['c.state', 'c.created_at', 'c.id']).where('c.status', '=', filters.status ?? 'active');
  if (filters.segment !== undefined) q = q.where('c.segment', '=', filters.segment);
  if (filters.tier !== undefined) q = q.where('c.tier', '=', filters.tier);
  if (filters.identity) {
    const i = filters.identity;
    q = q.where('c.id', 'in', (eb) =>
    {
      let s = eb.selectFrom('customer_identities').select('customer_id').where('kind', '=', i.kind).where('value', '=', i.value);
      if (i.channel !== undefined) s = s.where('channel', '=', i.channel);
      return s;
    });
  }
  if (filters.external) {
    const x = filters.external;
    q = q.where('c.id', 'in', (eb) => eb.selectFrom('customer_external_ids').select('customer_id').where('system', '=', x.system).where('external_id', '=', x.id));
  }
  if (filters.visibleTo) {
    const viewer = filters.visibleTo;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('cases')
          .select(sql.lit(1).as('one'))
          .whereRef('cases.customer_id', '=', 'c.id')
          .where((v) => visibleCase(v as unknown as ExpressionBuilder<Database, 'cases'>, viewer)),
      ),
    );
  }
  if (cursor) {
    const t = new Date(cursor.t);
    q = q.where((eb) => eb.or([eb('c.created_at', '<', t), eb.and([eb('c.created_at', '=', t), eb('c.id', '<', cursor.id)])]));
  }
  const rows = await q.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => r.state as CustomerState),
    nextCursor: rows.length > limit && last ? encode({ t: new Date(last.created_at).toISOString(), id: last.id }) : null,
  };
}

const ACTIVE = ['open', 'on_hold'];

/** The customer's cases: every open one, and the most recent others. */
export async function customerCases(db: Kysely<Database>, customerId: string, recent = 10) {
  const [open, others] = await Promise.all([
    db.selectFrom('cases').select('state').where('customer_id', '=', customerId).where('status', 'in', ACTIVE).orderBy('opened_at', 'desc').limit(100).execute(),
    db.selectFrom('cases').select('state').where('customer_id', '=', customerId).where('status', 'not in', ACTIVE).orderBy('opened_at', 'desc').limit(recent).execute(),
  ]);
  return { open: open.map((r) => r.state as CaseState), recent: others.map((r) => r.state as CaseState) };
}

/** Social posts on the customer's cases, newest first, as stored (sentiment fields when present). */
export async function customerPosts(db: Kysely<Database>, customerId: string, limit = 20) {
  const rows = await db
    .selectFrom('content as x')
    .innerJoin('cases as c', 'c.id', 'x.case_id')
    .select(['x.id', 'x.case_id', 'x.data', 'x.added_at', 'x.added_by'])
    .where('c.customer_id', '=', customerId)
    .where('x.kind', '=', 'social_post')
    .orderBy('x.added_at', 'desc')
    .orderBy('x.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, case_id: r.case_id, data: r.data as Record<string, unknown>, added_by: r.added_by, added_at: new Date(r.added_at).toISOString() }));
}

/** The activity history, newest first. */
export async function customerActivity(db: Kysely<Database>, customerId: string, limit = 50, kind?: string) {
  let q = db.selectFrom('customer_activity').selectAll().where('customer_id', '=', customerId);
  if (kind !== undefined) q = q.where('kind', '=', kind);
  const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    at: new Date(r.at).toISOString(),
    amount: r.amount,
    ref: r.ref,
    channel: r.channel,
    data: r.data as Record<string, unknown>,
    recorded_at: new Date(r.recorded_at).toISOString(),
    recorded_by: r.recorded_by,
  }));
}

/** The customer journal, oldest first. */
export async function customerJournal(db: Kysely<Database>, customerId: string, limit = 200) {
  const rows = await db
    .selectFrom('customer_journal')
    .selectAll()
    .where('customer_id', '=', customerId)
    .orderBy('version')
    .orderBy('idx')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    version: r.version,
    idx: r.idx,
    type: r.type,
    actor: { id: r.actor_id, role: r.actor_role },
    reason: r.reason,
    data: r.data,
    at: new Date(r.at).toISOString(),
  }));
}

/** The customer summaries of several cases' customers (the case view), by customer id. */
export async function customerRows(db: Kysely<Database>, ids: string[]) {
  if (ids.length === 0) return new Map<string, CustomerState>();
  const rows = await db.selectFrom('customers').select(['id', 'state']).where(sql<boolean>`id = any(${ids}::text[])`).execute();
  return new Map(rows.map((r) => [r.id, r.state as CustomerState]));
}

/** The agent rule for a customer: they may see at least one of the customer's cases. */
export async function agentSeesCustomer(db: Kysely<Database>, customerId: string, viewer: Viewer): Promise<boolean> {
  const row = await db
    .selectFrom('cases')
    .select(sql.lit(1).as('one'))
    .where('cases.customer_id', '=', customerId)
    .where((v) => visibleCase(v, viewer))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
