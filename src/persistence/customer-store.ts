/**
 * The customer store: lock and load a customer in one round trip, write everything a decision
 * produced in one statement (the customer row, identities, external ids, activity, journal,
 * outbox), inside the caller's transaction — a route's command or another module's (intake,
 * signals, deviation), so a customer changes in the same transaction as the case that caused it.
 *
 * "One identity belongs to one customer" is the unique index `customer_identities_claim`: the
 * write inserts identities `on conflict do nothing`, and when one was not inserted it names the
 * owner in an IDENTITY_CLAIMED error — the caller's transaction then rolls back (nothing written).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Actor } from '../cases/types.js';
import type { CustomerEffect, CustomerJournalEntry, CustomerState, Identity } from '../customers/types.js';
import { describeIdentity, type NormalisedIdentity } from '../customers/identity.js';
import { TesseraError } from '../errors.js';
import { inTransaction } from './in-transaction.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const json = (value: unknown) => JSON.stringify(value);

export interface LockedCustomer {
  state: CustomerState;
  /** `statement_timestamp()` of the lock: the command's "now". */
  dbNow: Date;
}

/** Locks the customer row (`FOR UPDATE`) and returns the aggregate with the database time, or undefined. */
export async function loadCustomerForUpdate(trx: Kysely<Database>, customerId: string): Promise<LockedCustomer | undefined> {
  const row = await trx
    .selectFrom('customers')
    .select(['state', sql<Date | string>`statement_timestamp()`.as('db_now')])
    .where('id', '=', customerId)
    .forUpdate()
    .executeTakeFirst();
  return row ? { state: row.state as CustomerState, dbNow: new Date(row.db_now) } : undefined;
}

/** Locks several customers in id order (two merges of the same pair wait instead of deadlocking). */
export async function loadCustomersForUpdate(trx: Kysely<Database>, ids: string[]): Promise<{ states: Map<string, CustomerState>; dbNow: Date }> {
  const rows = await trx
    .selectFrom('customers')
    .select(['id', 'state', sql<Date | string>`statement_timestamp()`.as('db_now')])
    .where(sql<boolean>`id = any(${ids}::text[])`)
    .orderBy('id')
    .forUpdate()
    .execute();
  const dbNow = rows[0] ? new Date(rows[0].db_now) : await readNow(trx);
  return { states: new Map(rows.map((r) => [r.id, r.state as CustomerState])), dbNow };
}

async function readNow(db: Db): Promise<Date> {
  const { rows } = await sql<{ now: Date | string }>`select statement_timestamp() as now`.execute(db);
  return new Date(rows[0]!.now);
}

export async function loadCustomer(db: Db, customerId: string): Promise<CustomerState | undefined> {
  const row = await db.selectFrom('customers').select('state').where('id', '=', customerId).executeTakeFirst();
  return row?.state as CustomerState | undefined;
}

/** The customer holding a (normalised) identity, if any. */
export async function findCustomerIdByIdentity(db: Db, identity: NormalisedIdentity): Promise<string | undefined> {
  const row = await db
    .selectFrom('customer_identities')
    .select('customer_id')
    .where('kind', '=', identity.kind)
    .where('channel', '=', identity.channel)
    .where('value', '=', identity.value)
    .executeTakeFirst();
  return row?.customer_id;
}

export async function findCustomerIdByExternalId(db: Db, system: string, externalId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('customer_external_ids')
    .select('customer_id')
    .where('system', '=', system)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return row?.customer_id;
}

export interface CustomerSaveInput {
  /** Absent for a new customer. */
  previousVersion: number | undefined;
  next: CustomerState;
  effects: CustomerEffect[];
  journal: CustomerJournalEntry[];
  /** Who recorded the activities (journal actor id). */
  actor: Actor;
}

export interface CustomerSaved {
  /** Outbox rows some subscription wants: hand them to the relay after commit. */
  pendingOutbox: string[];
}

function customerRow(c: CustomerState) {
  const lastContact = c.activity.last.contact ?? null;
  const lastAny = Object.values(c.activity.last).reduce<string | null>((a, b) => (b && (!a || Date.parse(b) > Date.parse(a)) ? b : a), null);
  return {
    id: c.id,
    status: c.status,
    merged_into: c.mergedInto ?? null,
    name: c.profile.name ?? null,
    segment: c.profile.segment ?? null,
    tier: c.profile.tier ?? null,
    lifetime_value: c.metrics.lifetimeValue?.value ?? null,
    referral_value: c.metrics.referralValue?.value ?? null,
    churn_risk: c.metrics.churnRisk?.value ?? null,
    last_activity_at: lastAny,
    last_contact_at: lastContact,
    version: c.version,
    state: c,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

const CUSTOMER_RECORD = sql`n(id text, status text, merged_into text, name text, segment text, tier text,
  lifetime_value float8, referral_value float8, churn_risk float8, last_activity_at timestamptz, last_contact_at timestamptz,
  version int, state jsonb, created_at timestamptz, updated_at timestamptz, previous_version int)`;

/**
 * Writes a customer decision in one statement. Throws CUSTOMER_VERSION_MISMATCH when the row was
 * not at `previousVersion` (unreachable under the row lock), IDENTITY_CLAIMED / EXTERNAL_ID_CLAIMED
 * when another customer holds one the decision adds — the caller's transaction must then roll
 * back (the thrown error does that for a transaction callback).
 */
export async function saveCustomer(trx: Kysely<Database>, input: CustomerSaveInput): Promise<CustomerSaved> {
  const c = input.next;
  const row = { ...customerRow(c), previous_version: input.previousVersion ?? null };
  const identities: Identity[] = [];
  const removedIdentities: string[] = [];
  const externalSet: { system: string; external_id: string }[] = [];
  const externalRemoved: string[] = [];
  const activities: Record<string, unknown>[] = [];
  const outbox: Record<string, unknown>[] = [];
  for (const e of input.effects) {
    switch (e.type) {
      case 'identity.add':
        identities.push(e.identity);
        break;
      case 'identity.remove':
        removedIdentities.push(e.identityId);
        break;
      case 'external_id.set':
        externalSet.push({ system: e.system, external_id: e.externalId });
        break;
      case 'external_id.remove':
        externalRemoved.push(e.system);
        break;
      case 'activity.add':
        activities.push({
          id: e.activity.id,
          kind: e.activity.kind,
          at: e.activity.at,
          amount: e.activity.amount ?? null,
          ref: e.activity.ref ?? null,
          channel: e.activity.channel ?? null,
          data: e.activity.data ?? {},
        });
        break;
      case 'outbox.emit':
        outbox.push({ ...e.event, n: outbox.length });
        break;
    }
  }
  const journal = input.journal.map((j, idx) => ({
    idx,
    type: j.type,
    actor_id: j.actor.id,
    actor_role: j.actor.role,
    reason: j.reason ?? null,
    data: j.data,
    at: j.at,
  }));

  const parts = [
    input.previousVersion === undefined
      ? sql`written as (
          insert into customers (id, status, merged_into, name, segment, tier, lifetime_value, referral_value, churn_risk,
            last_activity_at, last_contact_at, version, state, created_at, updated_at)
          select n.id, n.status, n.merged_into, n.name, n.segment, n.tier, n.lifetime_value, n.referral_value, n.churn_risk,
            n.last_activity_at, n.last_contact_at, n.version, n.state, n.created_at, n.updated_at
          from jsonb_to_recordset(${json([row])}::jsonb) as ${CUSTOMER_RECORD}
          returning id)`
      : sql`written as (
          update customers c set status = n.status, merged_into = n.merged_into, name = n.name, segment = n.segment, tier = n.tier,
            lifetime_value = n.lifetime_value, referral_value = n.referral_value, churn_risk = n.churn_risk,
            last_activity_at = n.last_activity_at, last_contact_at = n.last_contact_at, version = n.version, state = n.state,
            updated_at = n.updated_at
          from jsonb_to_recordset(${json([row])}::jsonb) as ${CUSTOMER_RECORD}
          -- The id by itself too: joined only to the recordset (estimated at 100 rows), the plan
          -- would scan every customer until there are tens of thousands of them.
          where c.id = ${row.id} and c.id = n.id and c.version = n.previous_version
          returning c.id)`,
  ];
  if (journal.length > 0) {
    parts.push(sql`journal_rows as (
      insert into customer_journal (customer_id, version, idx, type, actor_id, actor_role, reason, data, at)
      select ${c.id}, ${c.version}, j.idx, j.type, j.actor_id, j.actor_role, j.reason, j.data, j.at
      from jsonb_to_recordset(${json(journal)}::jsonb)
        as j(idx int, type text, actor_id text, actor_role text, reason text, data jsonb, at timestamptz)
      where exists (select 1 from written))`);
  }
  if (removedIdentities.length > 0) {
    parts.push(sql`removed_identities as (
      delete from customer_identities where customer_id = ${c.id} and id = any(${removedIdentities}::text[])
        and exists (select 1 from written))`);
  }
  if (identities.length > 0) {
    const rows = identities.map((i) => ({ id: i.id, kind: i.kind, channel: i.channel, value: i.value, added_at: i.addedAt }));
    parts.push(sql`added_identities as (
      insert into customer_identities (id, customer_id, kind, channel, value, added_at)
      select i.id, ${c.id}, i.kind, i.channel, i.value, i.added_at
      from jsonb_to_recordset(${json(rows)}::jsonb) as i(id text, kind text, channel text, value text, added_at timestamptz)
      where exists (select 1 from written)
      on conflict (kind, channel, value) do nothing
      returning id)`);
  }
  if (externalRemoved.length > 0) {
    parts.push(sql`removed_external as (
      delete from customer_external_ids where customer_id = ${c.id} and system = any(${externalRemoved}::text[])
        and exists (select 1 from written))`);
  }
  if (externalSet.length > 0) {
    // A system whose id changes was removed above; in one statement both would see the old row, so
    // the new id of the same system is written by an upsert on the owner's own row.
    parts.push(sql`added_external as (
      insert into customer_external_ids (system, external_id, customer_id)
      select x.system, x.external_id, ${c.id}
      from jsonb_to_recordset(${json(externalSet)}::jsonb) as x(system text, external_id text)
      where exists (select 1 from written)
      on conflict (system, external_id) do nothing
      returning system)`);
  }
  if (activities.length > 0) {
    parts.push(sql`activity_rows as (
      insert into customer_activity (id, customer_id, kind, at, amount, ref, channel, data, recorded_at, recorded_by)
      select a.id, ${c.id}, a.kind, a.at, a.amount, a.ref, a.channel, a.data, ${c.updatedAt}::timestamptz, ${input.actor.id}
      from jsonb_to_recordset(${json(activities)}::jsonb)
        as a(id text, kind text, at timestamptz, amount float8, ref text, channel text, data jsonb)
      where exists (select 1 from written))`);
  }
  if (outbox.length > 0) {
    parts.push(sql`outbox_rows as (
      insert into outbox (id, customer_id, type, data, occurred_at, status)
      select o.id, ${c.id}, o.type, o.data, o."occurredAt",
        case when exists (select 1 from webhook_subscriptions s
                          where s.enabled and (o.type = any(s.event_types) or '*' = any(s.event_types)))
             then 'pending' else 'dispatched' end
      from jsonb_to_recordset(${json(outbox)}::jsonb) as o(id text, type text, data jsonb, "occurredAt" timestamptz, n int)
      where exists (select 1 from written)
      order by o.n
      returning id, status)`);
  }
  const result = await sql<{ written: number; identities: number; external: number; pending: string[] | null }>`
    with ${sql.join(parts, sql`, `)}
    select (select count(*) from written)::int as written,
      ${identities.length > 0 ? sql`(select count(*) from added_identities)::int` : sql`0`} as identities,
      ${externalSet.length > 0 ? sql`(select count(*) from added_external)::int` : sql`0`} as external,
      ${outbox.length > 0 ? sql`(select array_agg(id) from outbox_rows where status = 'pending')` : sql`null::text[]`} as pending
  `.execute(trx);
  const r = result.rows[0]!;
  if (r.written !== 1) throw new TesseraError('CUSTOMER_VERSION_MISMATCH', `Customer ${c.id} changed concurrently; try again`);
  if (r.identities < identities.length) await refuseClaimedIdentity(trx, c.id, identities);
  if (r.external < externalSet.length) await refuseClaimedExternalId(trx, c.id, externalSet);
  return { pendingOutbox: r.pending ?? [] };
}

async function refuseClaimedIdentity(trx: Kysely<Database>, customerId: string, identities: Identity[]): Promise<never> {
  const owners = await trx
    .selectFrom('customer_identities')
    .select(['id', 'customer_id', 'kind', 'channel', 'value'])
    .where(sql<boolean>`(kind, channel, value) in (select * from jsonb_to_recordset(${json(identities.map((i) => ({ kind: i.kind, channel: i.channel, value: i.value })))}::jsonb) as x(kind text, channel text, value text))`)
    .where('customer_id', '<>', customerId)
    .execute();
  const first = owners[0];
  const n = first ? identities.findIndex((i) => i.kind === first.kind && i.channel === first.channel && i.value === first.value) : 0;
  const described = first ? describeIdentity(first as NormalisedIdentity) : 'an identity';
  throw new TesseraError(
    'IDENTITY_CLAIMED',
    `The ${described} belongs to customer ${first?.customer_id ?? '(another)'}; unlink it there first, or merge the two customers`,
    {
      identity: first ? { kind: first.kind, ...(first.channel ? { channel: first.channel } : {}), value: first.value } : undefined,
      owner_id: first?.customer_id,
      errors: owners.map((o) => ({
        pointer: `/identities/${Math.max(0, identities.findIndex((i) => i.kind === o.kind && i.channel === o.channel && i.value === o.value))}`,
        detail: `${describeIdentity(o as NormalisedIdentity)} belongs to customer ${o.customer_id}`,
      })),
      index: n,
    },
  );
}

async function refuseClaimedExternalId(trx: Kysely<Database>, customerId: string, ids: { system: string; external_id: string }[]): Promise<never> {
  const owners = await trx
    .selectFrom('customer_external_ids')
    .select(['system', 'external_id', 'customer_id'])
    .where(sql<boolean>`(system, external_id) in (select * from jsonb_to_recordset(${json(ids)}::jsonb) as x(system text, external_id text))`)
    .where('customer_id', '<>', customerId)
    .execute();
  const first = owners[0];
  throw new TesseraError(
    'EXTERNAL_ID_CLAIMED',
    `The ${first?.system ?? ''} id ${first?.external_id ?? ''} belongs to customer ${first?.customer_id ?? '(another)'}; merge the two customers instead`,
    {
      owner_id: first?.customer_id,
      errors: owners.map((o) => ({ pointer: `/external_ids/${o.system}`, detail: `belongs to customer ${o.customer_id}` })),
    },
  );
}

/**
 * A merge's row moves, in the merge's transaction (both customers locked): identities, external
 * ids and activity go to the survivor; the merged customer's cases point at the survivor, each
 * with a journal entry `customer.merged` (version + 1) so no case changes behind its journal.
 * Returns the ids of the cases moved.
 */
export async function moveCustomerRows(
  trx: Kysely<Database>,
  move: { from: string; into: string; actor: Actor; reason: string; at: string },
): Promise<string[]> {
  await trx.updateTable('customer_identities').set({ customer_id: move.into }).where('customer_id', '=', move.from).execute();
  await trx.updateTable('customer_external_ids').set({ customer_id: move.into }).where('customer_id', '=', move.from).execute();
  await trx.updateTable('customer_activity').set({ customer_id: move.into }).where('customer_id', '=', move.from).execute();
  const { rows } = await sql<{ id: string }>`
    with moved as (
      update cases c set customer_id = ${move.into},
        state = jsonb_set(jsonb_set(c.state, '{customer}', coalesce(c.state->'customer', '{}'::jsonb)), '{customer,id}', to_jsonb(${move.into}::text))
          || jsonb_build_object('version', c.version + 1, 'updatedAt', ${move.at}::text),
        version = c.version + 1, updated_at = ${move.at}::timestamptz
      where c.customer_id = ${move.from}
      returning c.id, c.version),
    journal_rows as (
      insert into journal (case_id, version, idx, type, actor_id, actor_role, reason, data, at)
      select m.id, m.version, 0, 'customer.merged', ${move.actor.id}, ${move.actor.role}, ${move.reason},
        jsonb_build_object('from', ${move.from}::text, 'into', ${move.into}::text), ${move.at}::timestamptz
      from moved m)
    select id from moved order by id`.execute(trx);
  return rows.map((r) => r.id);
}

/** Below this many active customers with a value, percentiles are exact (a count is cheap). */
export const EXACT_PERCENTILES_BELOW = 5_000;
/** Cutpoints older than this are recomputed by the next reader. */
export const QUANTILES_MAX_AGE_MS = 10 * 60_000;

const METRIC_COLUMNS = { clv: 'lifetime_value', crv: 'referral_value' } as const;

/**
 * Recomputes the cutpoints of both value metrics (one pass each, `percentile_disc` over the active
 * customers). Skipped, returning false, when another transaction is at it (advisory lock).
 */
export async function refreshValueQuantiles(db: Db): Promise<boolean> {
  return inTransaction(db as Kysely<Database>, async (trx) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtext('tessera.customer_value_quantiles')) as locked`.execute(trx);
    if (!rows[0]?.locked) return false;
    for (const column of Object.values(METRIC_COLUMNS)) {
      await sql`
        insert into customer_value_quantiles (metric, population, cutpoints, computed_at)
        select ${column}, count(*)::int,
          coalesce(percentile_disc((select array_agg(g / 1000.0) from generate_series(0, 1000) g)) within group (order by ${sql.ref(column)}), '{}'::float8[]),
          statement_timestamp()
        from customers where status = 'active' and ${sql.ref(column)} is not null
        on conflict (metric) do update set population = excluded.population, cutpoints = excluded.cutpoints, computed_at = excluded.computed_at`.execute(trx);
    }
    return true;
  });
}

/**
 * Where the customer's lifetime value and referral value stand in the customer base: the share of
 * active customers with a value strictly below theirs (0 = lowest, 1 = highest, like
 * `percent_rank`). A customer without a value ranks 0 for it; a base of one ranks 1. Null when
 * there is no such customer; a tombstone is answered for its survivor.
 *
 * Cost: one statement. Bases of EXACT_PERCENTILES_BELOW customers or more are ranked against
 * 1,001 stored cutpoints (0.1 % resolution, at most QUANTILES_MAX_AGE_MS old; the reader that
 * finds them stale recomputes them first); smaller bases are counted exactly. Measured with
 * `npm run bench:customers` (README, "Customers").
 */
export async function valuePercentiles(db: Db, customerId: string): Promise<{ clv: number; crv: number } | null> {
  let row = await readPercentiles(db, customerId);
  if (row && row.stale) {
    await refreshValueQuantiles(db);
    row = await readPercentiles(db, customerId);
  }
  return row ? { clv: row.clv, crv: row.crv } : null;
}

async function readPercentiles(db: Db, customerId: string): Promise<{ clv: number; crv: number; stale: boolean } | undefined> {
  const { rows } = await sql<{ clv: number | string | null; crv: number | string | null; stale: boolean }>`
    with me as (
      select t.lifetime_value as lv, t.referral_value as rv
      from customers c join customers t on t.id = coalesce(c.merged_into, c.id)
      where c.id = ${customerId}),
    q as (
      select l.computed_at as lv_at, l.population as lv_n, l.cutpoints as lv_cuts,
        r.computed_at as rv_at, r.population as rv_n, r.cutpoints as rv_cuts
      from (select 1) one
      left join customer_value_quantiles l on l.metric = 'lifetime_value'
      left join customer_value_quantiles r on r.metric = 'referral_value')
    select
      (q.lv_at is null or q.rv_at is null or least(q.lv_at, q.rv_at) < statement_timestamp() - ${`${QUANTILES_MAX_AGE_MS} milliseconds`}::interval) as stale,
      case when me.lv is null then 0
        when coalesce(q.lv_n, 0) >= ${EXACT_PERCENTILES_BELOW} then
          greatest(0, least(1, (width_bucket(me.lv, q.lv_cuts) - 1)::float8 / 1000))
        else (select case when count(*) <= 1 then 1 else (count(*) filter (where x.lifetime_value < me.lv))::float8 / (count(*) - 1) end
              from customers x where x.status = 'active' and x.lifetime_value is not null) end as clv,
      case when me.rv is null then 0
        when coalesce(q.rv_n, 0) >= ${EXACT_PERCENTILES_BELOW} then
          greatest(0, least(1, (width_bucket(me.rv, q.rv_cuts) - 1)::float8 / 1000))
        else (select case when count(*) <= 1 then 1 else (count(*) filter (where x.referral_value < me.rv))::float8 / (count(*) - 1) end
              from customers x where x.status = 'active' and x.referral_value is not null) end as crv
    from me cross join q`.execute(db);
  const r = rows[0];
  if (!r) return undefined;
  return { clv: Number(r.clv ?? 0), crv: Number(r.crv ?? 0), stale: r.stale };
}
