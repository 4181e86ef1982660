/**
 * Social posts end to end, through the one rule system: a signed webhook from the social
 * listening source -> the source mapping normalises it into an intake event -> the customer is
 * resolved (or created) from the handle -> sentiment is computed in process -> the shipped
 * social-complaint template's intake rules decide: open a complaint (routed to social-care,
 * priority from the rule), thread into it, or record the post on the customer. Real Postgres,
 * Redis and BullMQ; the real case-templates catalog.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCustomerCommand } from '../../src/commands/apply-customer-command.js';
import { admin, openInboundStack, type InboundStack } from './inbound-stack.js';

const CATALOG = path.resolve(import.meta.dirname, '../../case-templates');

const post = (fields: { id: string; author: string; text: string; reach?: number; channel?: string }) => ({
  type: 'post.created',
  post: { channel: fields.channel ?? 'x', id: fields.id, author: fields.author, text: fields.text, reach: fields.reach ?? 120, followers: 300 },
});

/** The mapping an integrator writes for a social listening tool: normalise only, no decisions. */
const SOCIAL_LISTENING = {
  rules: [
    {
      name: 'posts',
      when: "type = 'post.created' or type = 'post.updated'",
      intake: {
        kind: 'social_post',
        type: 'social.post.created',
        customer: '{ "channel": post.channel, "handle": post.author }',
        data: '{ "channel": post.channel, "post_id": post.id, "author_handle": post.author, "text": post.text, "reach": post.reach, "followers": post.followers }',
        external_refs: '{ "post_id": post.id }',
      },
    },
  ],
};

describe('social posts through template intake rules', () => {
  let s: InboundStack;
  let src: { key: string; secret: string };
  let vip: string;

  async function createCustomer(handle: string, lifetimeValue: number): Promise<string> {
    return s.db.transaction().execute(async (trx) => {
      const r = await applyCustomerCommand(trx, {
        command: {
          type: 'customer.create',
          input: {
            profile: { name: handle.slice(1), segment: lifetimeValue > 10_000 ? 'vip' : 'standard' },
            identities: [{ kind: 'handle', channel: 'x', value: handle }],
            metrics: { lifetimeValue: { value: lifetimeValue, asOf: '2026-11-01T00:00:00Z', source: 'crm' } },
          },
        },
        actor: { id: 'crm-import', role: 'system' },
      });
      return r.customer.id;
    });
  }

  const rowOf = async (webhookId: string) => {
    const rows = await s.settled(src.key);
    return rows.find((r) => r.webhook_id === webhookId)!;
  };
  const casesOf = (customerId: string) => s.db.selectFrom('cases').select(['id', 'template_key', 'priority', 'queue', 'state']).where('customer_id', '=', customerId).execute();

  beforeAll(async () => {
    s = await openInboundStack({ templatesDir: CATALOG });
    await s.startWorkers();
    // The mapping has two event types; post.updated is told apart by a second rule below.
    src = await s.createSource(
      {
        rules: [
          { ...SOCIAL_LISTENING.rules[0]!, name: 'updates', when: "type = 'post.updated'", intake: { ...SOCIAL_LISTENING.rules[0]!.intake, type: 'social.post.updated' } },
          { ...SOCIAL_LISTENING.rules[0]!, when: "type = 'post.created'" },
          {
            name: 'mentions',
            when: "type = 'mention'",
            intake: { kind: 'social_post', type: 'social.mention', customer: '{ "channel": "x", "handle": author }', data: '{ "channel": "x", "post_id": id, "text": text }', external_refs: '{ "post_id": id }' },
          },
        ],
      },
      'social-listening',
    );
    vip = await createCustomer('@vip_ana', 250_000);
    // The customer base the value percentile is taken over.
    for (const [i, value] of [120, 340, 560, 800].entries()) await createCustomer(`@regular_${i}`, value);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  let complaint: string;

  it("a signed negative post from a high-value customer's handle opens a complaint by the template rule, routed to social-care with high priority", async () => {
    const sent = await s.send(src.key, post({ id: 'p-1', author: '@vip_ana', text: 'Worst service ever. My order never arrived and nobody answers. Furious!' }), { secret: src.secret });
    expect(sent.statusCode, sent.body).toBe(202);
    const row = await rowOf(sent.webhookId);
    expect(row.status).toBe('applied');
    expect(row.result).toMatchObject({
      action: 'open',
      outcome: 'opened',
      intake_rule: 'social-complaint@2#/intake/0',
      customer_id: vip,
      priority: 'high',
      priority_source: 'priority',
      queue: 'social-care',
      sentiment: { label: 'negative', model: expect.stringContaining('wink-eng-lite-web-model') },
    });
    const cases = await casesOf(vip);
    expect(cases).toHaveLength(1);
    complaint = cases[0]!.id;
    expect(cases[0]).toMatchObject({ template_key: 'social-complaint', priority: 'high', queue: 'social-care' });
    expect(cases[0]!.state).toMatchObject({ title: 'Complaint on x by @vip_ana', externalRefs: { post_id: 'p-1', identity: 'handle:x:@vip_ana' } });
    const content = await s.db.selectFrom('content').select(['kind', 'data']).where('case_id', '=', complaint).execute();
    expect(content).toEqual([{ kind: 'social_post', data: expect.objectContaining({ channel: 'x', post_id: 'p-1', author_handle: '@vip_ana' }) }]);
    // The post opened a case: it is not also recorded as a bare activity.
    expect(await s.db.selectFrom('customer_activity').select('id').where('customer_id', '=', vip).execute()).toEqual([]);
  });

  it('a second post from that handle threads into the open complaint; no second case', async () => {
    const sent = await s.send(src.key, post({ id: 'p-2', author: '@VIP_ana', text: 'Still nothing. This is a disgrace, I want a refund now.' }), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'applied', case_id: complaint });
    // Whichever negative rule took it (open threads, attach attaches), it found the complaint by the identity.
    expect(row.result).toMatchObject({ outcome: 'threaded', thread_key: 'identity', intake_rule: expect.stringMatching(/^social-complaint@2#\/intake\/[01]$/) });
    expect(await casesOf(vip)).toHaveLength(1);
    const posts = await s.db.selectFrom('content').select('data').where('case_id', '=', complaint).execute();
    expect(posts.map((p) => (p.data as { post_id: string }).post_id).sort()).toEqual(['p-1', 'p-2']);
  });

  it('the case shows its priority with the factors that made it', async () => {
    const view = await s.app.inject({ method: 'GET', url: `/v1/cases/${complaint}`, headers: admin });
    expect(view.statusCode, view.body).toBe(200);
    const priority = view.json().priority;
    expect(priority.value).toBe('high');
    const factors = Object.fromEntries((priority.factors as { name: string; value: number; contribution: number }[]).map((f) => [f.name, f]));
    // The customer's value percentile (top of the base) and the negative sentiment are among the factors.
    expect(Object.keys(factors).length).toBeGreaterThan(2);
    expect(JSON.stringify(priority.factors)).toMatch(/sentiment/);
  });

  const update = (reach: number) => ({ ...post({ id: 'p-1', author: '@vip_ana', text: 'Worst service ever. My order never arrived and nobody answers. Furious!', reach }), type: 'post.updated' });
  const escalations = async () => (await s.journal(complaint)).filter((e) => e.type === 'case.escalated');

  it('an update of the post crossing the reach threshold threads into its case by the post id and escalates once', async () => {
    const sent = await s.send(src.key, update(60_000), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'applied', case_id: complaint });
    expect(row.result).toMatchObject({ outcome: 'threaded', thread_key: 'ref:post_id', intake_rule: 'social-complaint@2#/intake/2' });
    expect(await casesOf(vip)).toHaveLength(1);
    expect(await escalations()).toHaveLength(1);
    const [c] = await casesOf(vip);
    // The threshold raises the priority to at least high (it was high: the score may take it further).
    expect(['high', 'urgent']).toContain(c!.priority);
    const outbox = await s.db.selectFrom('outbox').select('type').where('case_id', '=', complaint).where('type', '=', 'case.escalated').execute();
    expect(outbox).toHaveLength(1);
  });

  it('a second update below the next threshold does not escalate again', async () => {
    const sent = await s.send(src.key, update(120_000), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'applied', case_id: complaint });
    expect(await escalations()).toHaveLength(1);
    const outbox = await s.db.selectFrom('outbox').select('type').where('case_id', '=', complaint).where('type', '=', 'case.escalated').execute();
    expect(outbox).toHaveLength(1);
  });

  it('a positive post is recorded on the customer (created from the handle) and opens nothing', async () => {
    const before = await s.counts();
    const sent = await s.send(src.key, post({ id: 'p-3', author: '@happy_lin', text: 'Absolutely love the new app, thank you so much! Great support team 😍' }), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'applied', case_id: null });
    expect(row.result).toMatchObject({ action: 'record', outcome: 'recorded', recorded_on_customer: true, intake_rule: 'social-complaint@2#/intake/3', sentiment: { label: 'positive' } });
    const customerId = (row.result as { customer_id: string }).customer_id;
    const identities = await s.db.selectFrom('customer_identities').select(['kind', 'channel', 'value']).where('customer_id', '=', customerId).execute();
    expect(identities).toEqual([{ kind: 'handle', channel: 'x', value: expect.stringMatching(/happy_lin/) }]);
    const activity = await s.db.selectFrom('customer_activity').select(['kind', 'ref', 'channel']).where('customer_id', '=', customerId).execute();
    expect(activity).toEqual([{ kind: 'contact', ref: 'p-3', channel: 'x' }]);
    const after = await s.counts();
    expect(after.cases).toBe(before.cases);
    expect(after.content).toBe(before.content);
  });

  it('a negative post with little reach from a customer without an open case is recorded, not opened', async () => {
    const sent = await s.send(src.key, post({ id: 'p-4', author: '@regular_1', text: 'Terrible experience, the app keeps crashing.' }), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row.result).toMatchObject({ action: 'record', outcome: 'recorded', reason: 'no active case to attach to', intake_rule: 'social-complaint@2#/intake/1' });
    const customerId = (row.result as { customer_id: string }).customer_id;
    expect(await casesOf(customerId)).toEqual([]);
    expect(await s.db.selectFrom('customer_activity').select('ref').where('customer_id', '=', customerId).execute()).toEqual([{ ref: 'p-4' }]);
  });

  it('a post no intake rule covers is recorded on the customer, never dropped', async () => {
    const sent = await s.send(src.key, { type: 'mention', id: 'm-1', author: '@someone_new', text: 'has anyone tried this?' }, { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'applied', case_id: null });
    expect(row.result).toMatchObject({ action: 'record', outcome: 'recorded', reason: 'no intake rule matched', intake_rule: null, recorded_on_customer: true });
    const customerId = (row.result as { customer_id: string }).customer_id;
    expect(await s.db.selectFrom('customer_activity').select(['kind', 'ref']).where('customer_id', '=', customerId).execute()).toEqual([{ kind: 'contact', ref: 'm-1' }]);
  });

  it('a post whose content is not a valid social post fails naming the field, and nothing is written', async () => {
    const before = await s.counts();
    const customersBefore = await s.db.selectFrom('customers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const sent = await s.send(src.key, post({ id: 'p-5', author: '@bad_input', text: 'x', channel: 'X Social!' }), { secret: src.secret });
    const row = await rowOf(sent.webhookId);
    expect(row).toMatchObject({ status: 'failed', case_id: null, error: { code: 'VALIDATION_FAILED', details: { errors: [expect.objectContaining({ pointer: '/data/channel' })] } } });
    expect(await s.counts()).toMatchObject({ cases: before.cases, content: before.content, journal: before.journal });
    const customersAfter = await s.db.selectFrom('customers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(customersAfter.n)).toBe(Number(customersBefore.n));
  });

  it('a repeat of a post (a sender retry) has one effect', async () => {
    const body = post({ id: 'p-6', author: '@vip_ana', text: 'Third time asking. Awful.' });
    const first = await s.send(src.key, body, { secret: src.secret, id: 'msg_repeat_1' });
    await s.settled(src.key);
    const again = await s.send(src.key, body, { secret: src.secret, id: 'msg_repeat_1' });
    expect(again.json().id).toBe(first.json().id);
    await s.settled(src.key);
    const posts = await s.db.selectFrom('content').select('data').where('case_id', '=', complaint).execute();
    expect(posts.filter((p) => (p.data as { post_id: string }).post_id === 'p-6')).toHaveLength(1);
  });
});
