/**
 * The customer store on real Postgres: a create writes the row, identities, journal and outbox in
 * one transaction; an identity another customer holds is refused (409 naming it and its owner)
 * with nothing written; activity goes to its own table; the journal is append-only.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCustomerCommand } from '../../src/commands/apply-customer-command.js';
import { recordCustomerActivity } from '../../src/commands/record-customer-activity.js';
import { resolveCustomer } from '../../src/commands/resolve-customer.js';
import { TesseraError } from '../../src/errors.js';
import { findCustomerIdByExternalId, findCustomerIdByIdentity, loadCustomer } from '../../src/persistence/customer-store.js';
import type { Database } from '../../src/persistence/schema.js';
import type { DatabaseHandle } from '../../src/platform/database.js';
import { openTestDatabase } from '../support/platform.js';

const actor = { id: 'sup-1', role: 'supervisor' as const };
let handle: DatabaseHandle;
let db: Kysely<Database>;

beforeAll(async () => {
  handle = await openTestDatabase();
  db = handle.db;
});
afterAll(async () => handle.close());

const tag = () => randomUUID().slice(0, 8);

async function create(input: Parameters<typeof applyCustomerCommand>[1]['command'] & { type: 'customer.create' }) {
  return db.transaction().execute((trx) => applyCustomerCommand(trx, { command: input, actor }));
}

const rowsOf = async (customerId: string) => ({
  identities: await db.selectFrom('customer_identities').selectAll().where('customer_id', '=', customerId).execute(),
  journal: await db.selectFrom('customer_journal').selectAll().where('customer_id', '=', customerId).orderBy('version').orderBy('idx').execute(),
  outbox: await db.selectFrom('outbox').selectAll().where('customer_id', '=', customerId).execute(),
  activity: await db.selectFrom('customer_activity').selectAll().where('customer_id', '=', customerId).execute(),
});

describe('customer store', () => {
  it('creates a customer with normalised identities, external ids, journal and outbox in one transaction', async () => {
    const t = tag();
    const { customer } = await create({
      type: 'customer.create',
      input: {
        profile: { name: 'Ana Kovač', segment: 'gold' },
        externalIds: { crm: `C-${t}` },
        identities: [
          { kind: 'email', value: ` Ana.${t}@Example.COM ` },
          { kind: 'handle', channel: 'Twitter', value: `@Ana_${t}` },
          { kind: 'phone', value: '+49 (151) 2345-6789' },
        ],
      },
      reason: 'first contact',
    });
    expect(customer.version).toBe(1);
    const rows = await rowsOf(customer.id);
    expect(rows.identities.map((i) => [i.kind, i.channel, i.value]).sort()).toEqual(
      [
        ['email', '', `ana.${t}@example.com`],
        ['handle', 'twitter', `ana_${t}`],
        ['phone', '', '+4915123456789'],
      ].sort(),
    );
    expect(rows.journal.map((j) => j.type)).toEqual(['customer.created', 'customer.profile_updated', 'customer.external_ids_updated', 'customer.identity_linked', 'customer.identity_linked', 'customer.identity_linked']);
    expect(rows.journal.every((j) => j.actor_id === 'sup-1' && j.reason === 'first contact')).toBe(true);
    expect(rows.outbox.map((o) => o.type)).toContain('customer.created');
    expect(rows.outbox.every((o) => o.case_id === null)).toBe(true);
    expect(await findCustomerIdByExternalId(db, 'crm', `C-${t}`)).toBe(customer.id);
    expect(await findCustomerIdByIdentity(db, { kind: 'handle', channel: 'twitter', value: `ana_${t}` })).toBe(customer.id);
  });

  it('refuses an identity another customer holds, naming it and its owner, and writes nothing', async () => {
    const t = tag();
    const first = await create({ type: 'customer.create', input: { identities: [{ kind: 'email', value: `bo.${t}@example.com` }] } });
    const before = await db.selectFrom('customers').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
    const attempt = create({
      type: 'customer.create',
      input: { profile: { name: 'Other' }, identities: [{ kind: 'email', value: `BO.${t}@example.com` }] },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'IDENTITY_CLAIMED', details: { owner_id: first.customer.id, identity: { kind: 'email', value: `bo.${t}@example.com` } } });
    const after = await db.selectFrom('customers').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    expect((await rowsOf(first.customer.id)).identities).toHaveLength(1);
  });

  it('records activity into its own table and keeps counts and the last time per kind on the aggregate', async () => {
    const { customer } = await create({ type: 'customer.create', input: {} });
    await db.transaction().execute((trx) =>
      recordCustomerActivity(trx, {
        customerId: customer.id,
        actor,
        activities: [
          { kind: 'purchase', at: '2026-01-01T10:00:00Z', amount: 40 },
          { kind: 'purchase', at: '2026-01-31T10:00:00+01:00', amount: 60, ref: 'order-2' },
          { kind: 'contact', at: '2026-02-01T09:00:00Z' },
        ],
      }),
    );
    const state = await loadCustomer(db, customer.id);
    expect(state?.activity.counts).toEqual({ purchase: 2, contact: 1 });
    expect(state?.activity.last.purchase).toBe('2026-01-31T09:00:00.000Z');
    const rows = await rowsOf(customer.id);
    expect(rows.activity.map((a) => a.amount).sort()).toEqual([40, 60, null].sort());
    const row = await db.selectFrom('customers').select(['last_contact_at', 'version']).where('id', '=', customer.id).executeTakeFirstOrThrow();
    expect(new Date(row.last_contact_at!).toISOString()).toBe('2026-02-01T09:00:00.000Z');
    expect(row.version).toBe(2);
  });

  it('refuses a malformed activity batch with pointers, writing nothing', async () => {
    const { customer } = await create({ type: 'customer.create', input: {} });
    const attempt = db.transaction().execute((trx) =>
      recordCustomerActivity(trx, {
        customerId: customer.id,
        actor,
        activities: [
          { kind: 'purchase', at: '2026-01-01T10:00:00Z', amount: 40 },
          { kind: 'teleport', at: 'yesterday', amount: Number.NaN },
          { kind: 'login', at: '2999-01-01T00:00:00Z' },
        ],
      }),
    );
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('INVALID_ACTIVITY');
    const pointers = ((err as TesseraError).details!['errors'] as { pointer: string }[]).map((e) => e.pointer);
    expect(pointers).toEqual(['/activities/1/kind', '/activities/1/at', '/activities/1/amount', '/activities/2/at']);
    const rows = await rowsOf(customer.id);
    expect(rows.activity).toHaveLength(0);
    expect(rows.journal.map((j) => j.version)).toEqual([1]);
  });

  it('resolves an identity to its customer, or creates one with it, inside the caller transaction', async () => {
    const t = tag();
    const ref = { identities: [{ kind: 'handle' as const, channel: 'instagram', value: `@cleo_${t}` }], profile: { name: 'Cleo' } };
    const made = await db.transaction().execute((trx) => resolveCustomer(trx, ref, { actor }));
    expect(made.created).toBe(true);
    const again = await db.transaction().execute((trx) => resolveCustomer(trx, { identities: [{ kind: 'handle', channel: 'INSTAGRAM', value: `Cleo_${t}` }] }, { actor }));
    expect(again).toMatchObject({ created: false, customer: { id: made.customer.id } });
    const byId = await db.transaction().execute((trx) => resolveCustomer(trx, { id: `crm-${t}` }, { actor }));
    expect(byId).toMatchObject({ created: true, customer: { id: `crm-${t}` } });
  });

  it('keeps the customer journal append-only', async () => {
    const { customer } = await create({ type: 'customer.create', input: {} });
    await expect(sql`delete from customer_journal where customer_id = ${customer.id}`.execute(db)).rejects.toThrow(/customer journal is append-only/);
  });
});
