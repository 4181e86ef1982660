/** The pure customer core: no database, time and ids passed in. */
import { describe, expect, it } from 'vitest';
import { decideCustomer, decideMerge, normaliseIdentity, type CustomerState } from '../../src/customers/index.js';

const actor = { id: 'sup', role: 'supervisor' as const };
const ctx = (at = '2026-03-01T12:00:00Z') => {
  let n = 0;
  return { now: new Date(at), actor, newId: () => `id-${++n}` };
};

function created(input: Parameters<typeof decideCustomer>[1] & { type: 'customer.create' }, id = 'c-1'): CustomerState {
  const d = decideCustomer(undefined, input, ctx(), id);
  if (!d.ok) throw new Error(d.error.message);
  return d.customer;
}

describe('identities', () => {
  it('normalise e-mails, phones and handles, and refuse what is not one', () => {
    expect(normaliseIdentity({ kind: 'email', value: ' Ana@Example.COM ' })).toEqual({ ok: true, identity: { kind: 'email', channel: '', value: 'ana@example.com' } });
    expect(normaliseIdentity({ kind: 'phone', value: '0049 151 2345-6789' })).toEqual({ ok: true, identity: { kind: 'phone', channel: '', value: '+4915123456789' } });
    expect(normaliseIdentity({ kind: 'handle', channel: 'X', value: '@Ana_K' })).toEqual({ ok: true, identity: { kind: 'handle', channel: 'x', value: 'ana_k' } });
    expect(normaliseIdentity({ kind: 'handle', value: '@ana' })).toMatchObject({ ok: false, field: 'channel' });
    expect(normaliseIdentity({ kind: 'email', value: 'not-an-email' })).toMatchObject({ ok: false, field: 'value' });
  });

  it('linking an identity the customer already has changes nothing (the same state back)', () => {
    const c = created({ type: 'customer.create', input: { identities: [{ kind: 'email', value: 'a@b.co' }] } });
    const d = decideCustomer(c, { type: 'customer.link_identity', identity: { kind: 'email', value: 'A@B.CO' } }, ctx());
    expect(d).toMatchObject({ ok: true, effects: [], journal: [] });
    expect(d.ok && d.customer).toBe(c);
  });
});

describe('activity', () => {
  it('folds counts, the last time per kind and a bounded recent slice', () => {
    const c = created({ type: 'customer.create', input: {} });
    const activities = Array.from({ length: 25 }, (_, i) => ({ kind: 'purchase', at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(), amount: i }));
    const d = decideCustomer(c, { type: 'customer.record_activity', activities }, ctx());
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.customer.activity.counts).toEqual({ purchase: 25 });
    expect(d.customer.activity.last.purchase).toBe('2026-01-25T00:00:00.000Z');
    expect(d.customer.activity.recent).toHaveLength(20);
    expect(d.customer.activity.recent[0]!.at).toBe('2026-01-25T00:00:00.000Z');
    expect(d.effects.filter((e) => e.type === 'activity.add')).toHaveLength(25);
  });

  it('accepts up to 5 minutes of clock skew, not more', () => {
    const c = created({ type: 'customer.create', input: {} });
    const ok = decideCustomer(c, { type: 'customer.record_activity', activities: [{ kind: 'login', at: '2026-03-01T12:04:59Z' }] }, ctx());
    expect(ok.ok).toBe(true);
    const late = decideCustomer(c, { type: 'customer.record_activity', activities: [{ kind: 'login', at: '2026-03-01T12:05:01Z' }] }, ctx());
    expect(late).toMatchObject({ ok: false, error: { code: 'INVALID_ACTIVITY', details: { errors: [{ pointer: '/activities/0/at' }] } } });
  });
});

describe('merge', () => {
  it('takes over missing profile fields and newer metrics, and makes the other a tombstone', () => {
    const survivor = created({ type: 'customer.create', input: { profile: { name: 'Ana' }, metrics: { lifetimeValue: { value: 10, asOf: '2026-01-01T00:00:00Z', source: 'crm' } } } }, 's');
    const other = created(
      { type: 'customer.create', input: { profile: { name: 'A.', segment: 'gold' }, externalIds: { shop: 'S1' }, metrics: { lifetimeValue: { value: 50, asOf: '2026-02-01T00:00:00Z', source: 'crm' } } } },
      'o',
    );
    const d = decideMerge(survivor, other, ctx(), 'duplicate');
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.survivor.customer.profile).toEqual({ name: 'Ana', segment: 'gold' });
    expect(d.survivor.customer.metrics.lifetimeValue!.value).toBe(50);
    expect(d.survivor.customer.externalIds).toEqual({ shop: 'S1' });
    expect(d.merged.customer).toMatchObject({ status: 'merged', mergedInto: 's', identities: [], externalIds: {} });
    expect(d.survivor.journal.map((j) => j.type)).toEqual(['customer.merged_in']);
    expect(d.merged.journal.map((j) => [j.type, j.reason])).toEqual([['customer.merged_into', 'duplicate']]);
  });

  it('refuses differing ids in the same system, a merge into itself, and a missing reason', () => {
    const a = created({ type: 'customer.create', input: { externalIds: { crm: '1' } } }, 'a');
    const b = created({ type: 'customer.create', input: { externalIds: { crm: '2' } } }, 'b');
    expect(decideMerge(a, b, ctx(), 'dup')).toMatchObject({ ok: false, error: { code: 'MERGE_NOT_ALLOWED', details: { errors: [{ pointer: '/external_ids/crm' }] } } });
    expect(decideMerge(a, a, ctx(), 'dup')).toMatchObject({ ok: false, error: { code: 'MERGE_NOT_ALLOWED' } });
    expect(decideMerge(a, b, ctx(), ' ')).toMatchObject({ ok: false, error: { code: 'REASON_REQUIRED' } });
  });
});
