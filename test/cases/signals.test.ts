/**
 * Posts, sentiment, priority and reach escalation in the pure engine: what a decision returns.
 */
import { describe, expect, it } from 'vitest';
import type { CaseState, CustomerValue } from '../../src/cases/types.js';
import { createSentimentAnalyzer, loadWinkModel } from '../../src/signals/sentiment.js';
import type { CaseTemplate } from '../../src/templates/types.js';
import { AGENT, SUPERVISOR, TEMPLATE, createHarness, effectsOf, outbox } from './harness.js';

const sentiment = createSentimentAnalyzer(loadWinkModel());

const SOCIAL: CaseTemplate = {
  ...TEMPLATE,
  priority: { severity: 'high' },
  escalations: [
    { when: { reach: 10000 }, raisePriority: 'high', actions: [{ action: 'notify', role: 'supervisor' }, { action: 'reassign', queue: 'social-leads' }] },
    { when: { reach: 100000 }, actions: [{ action: 'notify', queue: 'pr' }] },
    { when: { virality: 500 }, raisePriority: 'urgent', actions: [{ action: 'startFragment', fragment: 'refund@1' }] },
  ],
};

const post = (extra: Record<string, unknown> = {}) => ({
  type: 'content.add' as const,
  kind: 'social_post' as const,
  data: { channel: 'x', post_id: '1001', author_handle: '@jane', text: 'Third outage this week. Not happy!', followers: 5000, engagements: 10, reach: 800, ...extra },
});

describe('typed content in the engine', () => {
  it('refuses a post with bad fields, naming each (nothing returned but the error)', () => {
    const h = createHarness();
    const c = h.open();
    const error = h.rejects(c, post({ reach: -5, followers: 'many', posted_at: 'yesterday', sentiment: 0.4, colour: 'red' }), 'CONTENT_INVALID');
    const pointers = (error.details!['errors'] as { pointer: string; detail: string }[]).map((e) => e.pointer).sort();
    expect(pointers).toEqual(['/data/colour', '/data/followers', '/data/posted_at', '/data/reach', '/data/sentiment']);
    expect(error.message).toMatch(/\/data\/\w+/);
    h.rejects(c, { type: 'content.add', kind: 'social_post', data: { channel: 'x', text: 'no identity' } }, 'CONTENT_INVALID');
    h.rejects(c, { type: 'content.add', kind: 'attachment', data: { name: 'a.pdf', media_type: 'application/pdf', url: 'http://files.example/a.pdf' } }, 'CONTENT_INVALID');
    h.rejects(c, { type: 'content.add', kind: 'crm_profile', data: { churn_risk: 1.5 } }, 'CONTENT_INVALID');
  });
});

describe('posts: add, update with history, sentiment', () => {
  it('a new post stores the computed sentiment with the model id, beside the sender-provided one', () => {
    const h = createHarness({ engine: { sentiment } });
    const d = h.ok(h.open(), post({ sentiment: { score: 0.2, label: 'positive', source: 'listening-tool' } }), AGENT);
    const [added] = effectsOf(d.effects, 'content.add');
    expect(added!.item.data['sentiment']).toEqual({ score: 0.2, label: 'positive', source: 'listening-tool' });
    expect(added!.item.analysis).toEqual({ sentiment: { score: expect.any(Number), label: 'negative', model: sentiment.model } });
    expect(added!.item.revision).toBe(1);
    // The computed score is what priority reads.
    expect(d.case.posts![0]!.sentiment).toEqual({ score: added!.item.analysis!.sentiment!.score, source: 'computed', model: sentiment.model });
  });

  it('the same channel + post id updates the post: figures, a revision, content.updated; sentiment only recomputed when the text changes', () => {
    const h = createHarness({ engine: { sentiment } });
    const c1 = h.ok(h.open(), post(), AGENT).case;
    const contentId = c1.posts![0]!.contentId;
    h.advance(30 * 60_000);
    const d = h.ok(c1, post({ reach: 4000, engagements: 300, text: undefined }), AGENT);
    expect(effectsOf(d.effects, 'content.add')).toEqual([]);
    const [update] = effectsOf(d.effects, 'content.update');
    expect(update!.item.id).toBe(contentId);
    expect(update!.revision).toMatchObject({ contentId, revision: 2, by: AGENT.id, at: h.now().toISOString() });
    expect(update!.revision.analysis).toBeUndefined();
    expect(d.journal.find((e) => e.type === 'content.updated')!.data).toMatchObject({
      contentId,
      revision: 2,
      from: { reach: 800, engagements: 10 },
      to: { reach: 4000, engagements: 300 },
    });
    expect(outbox(d.effects)).toContain('content.updated');
    expect(d.case.posts).toHaveLength(1);
    expect(d.case.posts![0]).toMatchObject({ revision: 2, reach: 4000, engagements: 300, samples: [{ engagements: 10 }, { engagements: 300 }] });
    // New text: sentiment computed again.
    h.advance(60_000);
    const d3 = h.ok(d.case, post({ text: 'Fixed now, thank you so much 🙏' }), AGENT);
    const [u3] = effectsOf(d3.effects, 'content.update');
    expect(u3!.item.analysis!.sentiment!.label).toBe('positive');
    // A different post id is a second post.
    const d4 = h.ok(d3.case, post({ post_id: '2002' }), AGENT);
    expect(d4.case.posts).toHaveLength(2);
  });
});

describe('priority score', () => {
  it('opens with a computed priority and factors that sum to the score', () => {
    const h = createHarness({ template: SOCIAL });
    const c = h.open();
    expect(c.priority).toBe('normal');
    const info = c.priorityInfo!;
    expect(info.factors.map((f) => f.name)).toEqual(['lifetime_value', 'referral_value', 'sentiment', 'reach', 'influence', 'virality', 'severity']);
    expect(info.factors.reduce((s, f) => s + f.contribution, 0)).toBeCloseTo(info.score, 6);
    // Unknown customer: the median; severity high.
    expect(info.score).toBe(22.5);
    expect(info.floor).toBe('low');
  });

  it('a negative post from a high-value customer makes it urgent; journaled and sent once', () => {
    const value: CustomerValue = { clv: 0.95, crv: 0.9 };
    const h = createHarness({ template: SOCIAL, engine: { sentiment }, customerValue: () => value });
    const c = h.open({ customer: { id: 'cus-1' } });
    const d = h.ok(c, post({ reach: 9000 }), AGENT);
    expect(d.case.priority).toBe('urgent');
    const changed = d.journal.filter((e) => e.type === 'priority.changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]!.data).toMatchObject({ trigger: 'content.added', from: { priority: 'normal' }, to: { priority: 'urgent' } });
    expect(effectsOf(d.effects, 'outbox.emit').filter((e) => e.event.type === 'case.priority_changed').map((e) => e.event.data)).toEqual([
      expect.objectContaining({ from: 'normal', to: 'urgent' }),
    ]);
    const factors = Object.fromEntries(d.case.priorityInfo!.factors.map((f) => [f.name, f]));
    expect(factors['lifetime_value']!.value).toBe(0.95);
    expect(factors['sentiment']!.explanation).toMatch(/most negative post/);
  });

  it('priority.recompute changes nothing (and writes nothing) when the score stays', () => {
    const h = createHarness({ template: SOCIAL });
    const c = h.open();
    const d = h.ok(c, { type: 'priority.recompute' });
    expect(d.case).toBe(c);
    expect(d.journal).toEqual([]);
    expect(d.result).toMatchObject({ noop: true });
  });

  it('an override holds: recomputation records the new score and factors but the priority stays', () => {
    let value: CustomerValue | null = null;
    const h = createHarness({ template: SOCIAL, customerValue: () => value });
    const c = h.open({ customer: { id: 'cus-1' } });
    h.rejects(c, { type: 'priority.override', priority: 'low', reason: 'spam account' }, 'FORBIDDEN', AGENT);
    h.rejects(c, { type: 'priority.override', priority: 'low', reason: '' }, 'REASON_REQUIRED', SUPERVISOR);
    const o = h.ok(c, { type: 'priority.override', priority: 'low', reason: 'known troll' }, SUPERVISOR);
    expect(o.case.priority).toBe('low');
    expect(o.journal.map((e) => e.type)).toEqual(['priority.overridden', 'priority.changed']);
    value = { clv: 1, crv: 1 };
    const r = h.ok(o.case, { type: 'priority.recompute' });
    expect(r.case.priority).toBe('low');
    expect(r.case.priorityInfo!.score).toBeGreaterThan(o.case.priorityInfo!.score);
    expect(r.journal.map((e) => e.type)).toEqual(['priority.changed']);
    expect(r.journal[0]!.data).toMatchObject({ overridden: true, to: { priority: 'low' } });
    expect(outbox(r.effects)).toEqual([]);
    const lifted = h.ok(r.case, { type: 'priority.release' }, SUPERVISOR);
    expect(lifted.case.priority).toBe(lifted.case.priorityInfo!.computed);
    expect(lifted.case.priorityInfo!.override).toBeUndefined();
    h.rejects(lifted.case, { type: 'priority.release' }, 'PRIORITY_NOT_OVERRIDDEN', SUPERVISOR);
  });
});

describe('reach escalation', () => {
  const crossed = (c: CaseState) => c.priorityInfo!.crossed;

  it('runs once per threshold crossed; a second update below the next threshold does not escalate again', () => {
    const h = createHarness({ template: SOCIAL });
    const c1 = h.ok(h.open(), post({ text: undefined, reach: 5000, engagements: 0 }), AGENT).case;
    expect(crossed(c1)).toEqual([]);
    h.advance(60 * 60_000);
    const d2 = h.ok(c1, post({ text: undefined, reach: 12000, engagements: 50 }), AGENT);
    expect(crossed(d2.case)).toEqual(['reach>=10000']);
    expect(d2.case.queue).toBe('social-leads');
    expect(d2.case.priority).toBe('high');
    const escalated = effectsOf(d2.effects, 'outbox.emit').filter((e) => e.event.type === 'case.escalated');
    expect(escalated.map((e) => e.event.data)).toEqual([
      expect.objectContaining({ threshold: 'reach>=10000', metric: 'reach', value: 12000, priority: 'high', notify: [{ role: 'supervisor' }] }),
    ]);
    expect(d2.journal.filter((e) => e.type === 'case.escalated')).toHaveLength(1);
    h.advance(60 * 60_000);
    const d3 = h.ok(d2.case, post({ text: undefined, reach: 60000, engagements: 100 }), AGENT);
    expect(d3.journal.filter((e) => e.type === 'case.escalated')).toEqual([]);
    expect(outbox(d3.effects)).not.toContain('case.escalated');
    expect(crossed(d3.case)).toEqual(['reach>=10000']);
    // Crossing the next one escalates once more.
    h.advance(60 * 60_000);
    const d4 = h.ok(d3.case, post({ text: undefined, reach: 150000, engagements: 150 }), AGENT);
    expect(crossed(d4.case)).toEqual(['reach>=10000', 'reach>=100000']);
    expect(d4.case.priority).toBe('urgent');
  });

  it('virality (engagements per hour) crosses its threshold and starts the fragment once', () => {
    const h = createHarness({ template: SOCIAL });
    const c1 = h.ok(h.open(), post({ text: undefined, reach: 100, engagements: 0 }), AGENT).case;
    h.advance(30 * 60_000);
    const d = h.ok(c1, post({ text: undefined, reach: 500, engagements: 400 }), AGENT);
    // 400 engagements in half an hour = 800 per hour.
    expect(d.case.posts![0]!.samples).toHaveLength(2);
    expect(crossed(d.case)).toEqual(['virality>=500']);
    expect(d.case.fragments.filter((f) => f.definition === 'refund@1')).toHaveLength(1);
    expect(d.case.priority).toBe('urgent');
    h.advance(30 * 60_000);
    const again = h.ok(d.case, post({ text: undefined, engagements: 900 }), AGENT);
    expect(again.case.fragments.filter((f) => f.definition === 'refund@1')).toHaveLength(1);
    expect(outbox(again.effects)).not.toContain('case.escalated');
  });
});
