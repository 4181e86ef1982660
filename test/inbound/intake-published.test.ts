/**
 * Intake rules of a template version published at runtime apply in every process without a
 * restart: process A (the app) publishes order-case@2 with a new intake rule; the inbox applier of
 * process B (a second core on the same database, its rules compiled and warm, never told) opens
 * the next matching event on @2 by that rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleCore } from '../../src/core.js';
import { createInboundSources } from '../../src/inbound/inbound-sources.js';
import { createInboxApplier } from '../../src/inbound/apply-inbox.js';
import { silentLogger } from '../support/platform.js';
import { admin, INBOUND_CATALOG, openInboundStack, type InboundStack } from './inbound-stack.js';

let s: InboundStack;
beforeAll(async () => {
  s = await openInboundStack();
});
afterAll(async () => s?.close());

const intakeOf = (type: string) => ({ kind: 'crm_event', type, customer: '{ "external_id": data.customer }', data: '{ "extra": { "n": data.n } }', external_refs: '{ "order_id": data.order_id }' });
const ORDERS_CRM = {
  rules: ['order.created', 'order.disputed'].map((type) => ({ name: type, when: `data.kind = '${type}'`, intake: intakeOf(type) })),
};

describe('intake rules published at runtime', () => {
  it('a second process applies the new version\'s intake rule at once, without a restart or a message', async () => {
    const b = await assembleCore({ database: s.platform.database, jobs: s.jobs, logger: silentLogger, templatesDir: INBOUND_CATALOG });
    const applierB = createInboxApplier({
      db: s.db,
      runner: b.runner,
      sources: createInboundSources({ db: s.db, secrets: s.platform.secrets }),
      catalog: b.catalog,
      syncCatalog: () => b.catalogSync.sync(s.db),
      logger: silentLogger,
    });
    const src = await s.createSource(ORDERS_CRM, 'orders-crm');
    const send = async (kind: string, n: number) => {
      await s.send(src.key, { data: { kind, n, order_id: `ord-${n}`, customer: `cu-${n}` } }, { secret: src.secret });
      const row = (await s.inboxRows(src.key)).at(-1)!;
      await applierB.apply(row.id);
      return s.db.selectFrom('inbox').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
    };

    // B warms up on v1: no rule for a dispute, so the event is only recorded.
    const before = await send('order.disputed', 1);
    expect(before.status).toBe('applied');
    expect(before.case_id).toBeNull();
    expect(before.result).toMatchObject({ intake_rule: null });

    // A publishes order-case@2 with a rule that opens a case for a dispute.
    const draft = await s.app.inject({ method: 'POST', url: '/v1/templates/order-case/drafts', headers: admin, payload: {} });
    expect(draft.statusCode, draft.body).toBe(201);
    const v1Rules = draft.json().template.intake as unknown[];
    const patched = await s.app.inject({
      method: 'PATCH',
      url: `/v1/template-drafts/${draft.json().id}`,
      headers: { ...admin, 'if-match': '"v1"' },
      payload: { template: { intake: [...v1Rules, { source: 'orders-crm', eventType: 'order.disputed', kind: 'crm_event', action: 'open', priority: 'urgent', title: "'Dispute ' + event.externalRefs.order_id", threadBy: ['ref:order_id'] }] } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().problems).toEqual([]);
    const published = await s.app.inject({ method: 'POST', url: `/v1/template-drafts/${draft.json().id}/publish`, headers: admin, payload: {} });
    expect(published.statusCode, published.body).toBe(200);
    expect(b.catalog.template('order-case')!.version).toBe(1);

    // B, right away: the next dispute opens a case on v2 by the new rule.
    const after = await send('order.disputed', 2);
    expect(after.status, JSON.stringify(after.error)).toBe('applied');
    expect(after.result).toMatchObject({ intake_rule: 'order-case@2#/intake/1' });
    const opened = await s.db.selectFrom('cases').select(['template_version', 'priority', 'title']).where('id', '=', after.case_id!).executeTakeFirstOrThrow();
    expect(opened).toEqual({ template_version: 2, priority: 'urgent', title: 'Dispute ord-2' });
    // The v1 rule still decides order.created, now from v2 (the latest version's rules apply).
    const created = await send('order.created', 3);
    expect(created.result).toMatchObject({ intake_rule: 'order-case@2#/intake/0' });
  });
});
