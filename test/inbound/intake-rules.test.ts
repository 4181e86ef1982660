/**
 * The template intake rules, pure: evaluation order across templates, first match, priorities,
 * threading precedence; and the load-time checks (file:line problems).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IntakeEvent } from '../../src/inbound/intake-event.js';
import { compileIntakeRules, decideIntake, intakeScope, threadKeys } from '../../src/inbound/intake-rules.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import type { CaseTemplate, IntakeRule } from '../../src/templates/types.js';

const template = (key: string, intake: IntakeRule[], extra: Partial<CaseTemplate> = {}): CaseTemplate =>
  ({ key, version: 1, title: key, caseFileSchema: { type: 'object' }, goals: [], defaultFragments: [], discretionaryFragments: [], roles: ['agent'], resolution: 'owner', intake, ...extra }) as CaseTemplate;

const event = (over: Partial<IntakeEvent> = {}): IntakeEvent => ({
  source: 'social',
  kind: 'social_post',
  type: 'post',
  customer: { channel: 'x', handle: '@ana' },
  data: { channel: 'x', post_id: 'p1', text: 'bad', reach: 800 },
  externalRefs: { post_id: 'p1' },
  ...over,
});

const decide = (templates: CaseTemplate[], e: IntakeEvent, customer: Record<string, unknown> = {}, sentiment?: { score: number; label: string; model: string }) =>
  decideIntake(compileIntakeRules(templates), e, intakeScope(e, { sentiment }, customer));

describe('decideIntake', () => {
  it('tries templates by key and rules in file order; the first match decides', () => {
    const templates = [
      template('zeta', [{ source: 'social', eventType: 'post', action: 'open', priority: 'urgent' }]),
      template('alpha', [
        { source: 'social', eventType: 'post', when: 'event.data.reach > 1000.0', action: 'open', priority: 'high' },
        { source: 'social', eventType: 'post', action: 'record', priority: 'low' },
      ]),
    ];
    expect(decide(templates, event())).toMatchObject({ rule: { template: 'alpha', index: 1 }, action: 'record' });
    expect(decide(templates, event({ data: { channel: 'x', reach: 5000 } }))).toMatchObject({ rule: { template: 'alpha', index: 0 }, action: 'open', priority: 'high' });
    // The same catalog in another order decides the same.
    expect(decide([...templates].reverse(), event())).toMatchObject({ rule: { template: 'alpha', index: 1 } });
  });

  it('matches source, event type and kind; nothing matches -> undefined (the applier records)', () => {
    const templates = [template('t', [{ source: 'social', eventType: 'post', kind: 'crm_event', action: 'open', priority: 'high' }])];
    expect(decide(templates, event())).toBeUndefined();
    expect(decide(templates, event({ source: 'crm' }))).toBeUndefined();
    expect(decide(templates, event({ kind: 'crm_event' }))).toMatchObject({ action: 'open' });
  });

  it('reads the customer and the computed sentiment; the first matching priorityRule sets the priority', () => {
    const templates = [
      template(
        'complaint',
        [
          {
            source: 'social',
            eventType: 'post',
            when: "event.sentiment.label == 'negative' && customer.clv_percentile >= 0.8",
            action: 'open',
            priority: 'high',
            priorityRules: [
              { when: 'event.data.reach >= 100000.0', priority: 'urgent' },
              { when: "customer.segment == 'vip'", priority: 'urgent' },
            ],
            queue: 'care',
            title: "'Complaint by ' + event.identity.handle",
          },
        ],
        { defaultQueue: 'other' },
      ),
    ];
    const negative = { score: -0.6, label: 'negative', model: 'm' };
    expect(decide(templates, event(), { clv_percentile: 0.5 }, negative)).toBeUndefined();
    expect(decide(templates, event(), { clv_percentile: 0.9 }, { ...negative, label: 'positive' })).toBeUndefined();
    expect(decide(templates, event(), { clv_percentile: 0.9 }, negative)).toEqual({
      rule: { template: 'complaint', version: 1, index: 0 },
      action: 'open',
      template: 'complaint',
      queue: 'care',
      title: 'Complaint by @ana',
      priority: 'high',
      prioritySource: 'priority',
      threadBy: [],
    });
    expect(decide(templates, event(), { clv_percentile: 0.9, segment: 'vip' }, negative)).toMatchObject({ priority: 'urgent', prioritySource: 'priorityRules/1' });
  });

  it('a condition over its CEL budget stops the decision instead of reading as "no match"', () => {
    const templates = [template('t', [{ source: 'social', eventType: 'post', when: 'event.data.list.all(x, event.data.list.all(y, x == y))', action: 'open', priority: 'high' }])];
    // The nested macro is refused when written: the rule never compiles, so it never matches.
    expect(compileIntakeRules(templates)).toEqual([]);
    const long = [template('t', [{ source: 'social', eventType: 'post', when: "event.data.list.exists(x, x == 'z' + event.data.s)", action: 'open', priority: 'high' }])];
    const big = event({ data: { list: Array.from({ length: 60_000 }, (_, i) => `v${i}`), s: 'x'.repeat(10) } });
    expect(() => decide(long, big)).toThrow(expect.objectContaining({ code: 'EXPRESSION_LIMIT' }));
  });

  it('threading keys come in precedence order: ref, identity, customer', () => {
    expect(threadKeys(['customer', 'identity', 'ref:post_id'])).toEqual([{ by: 'ref', ref: 'post_id' }, { by: 'identity' }, { by: 'customer' }]);
  });
});

describe('intake rules at template load time', () => {
  const roots: string[] = [];
  afterAll(async () => Promise.all(roots.map((d) => rm(d, { recursive: true, force: true }))));
  const FRAGMENT = `key: step\nversion: 1\ntitle: Step\nmachine:\n  id: step\n  initial: a\n  states:\n    a:\n      on: { GO: b }\n    b:\n      type: final\n`;
  const TEMPLATE = (intake: string) => `key: intake-check
version: 1
title: Intake check
caseFileSchema:
  type: object
goals:
  - { key: done, title: Done, condition: "true", required: true }
milestones: []
defaultFragments: [step@1]
roles: [agent]
resolution: owner
intake:
${intake}`;

  it('reports attach without threadBy, a shadowed rule, options without effect, a bad key and bad CEL, each with file:line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-intake-'));
    roots.push(dir);
    await mkdir(path.join(dir, 'fragments'));
    await writeFile(path.join(dir, 'fragments', 'step.yaml'), FRAGMENT);
    await writeFile(
      path.join(dir, 'intake-check.yaml'),
      TEMPLATE(`  - { source: social, eventType: post, action: attach, priority: normal }
  - { source: social, eventType: post, action: record, priority: low, queue: care }
  - { source: social, eventType: post, action: open, priority: high }
  - { source: crm, eventType: x, action: open, priority: high, threadBy: [ref:a, ref:a] }
  - { source: crm, eventType: y, action: open, priority: high, when: "event.data.amount >" }
`),
    );
    const result = await loadCatalog(dir);
    const problems = result.problems.map((p) => [p.code, p.path, p.line]);
    expect(problems).toEqual(
      expect.arrayContaining([
        ['INVALID_INTAKE_RULE', '/intake/0/threadBy', expect.any(Number)],
        ['INVALID_INTAKE_RULE', '/intake/1/queue', expect.any(Number)],
        ['INVALID_INTAKE_RULE', '/intake/2', expect.any(Number)],
        ['INVALID_INTAKE_RULE', '/intake/3/threadBy/1', expect.any(Number)],
        ['INVALID_EXPRESSION', '/intake/4/when', expect.any(Number)],
      ]),
    );
    // The template with problems is not published.
    expect(result.templates.map((t) => t.key)).not.toContain('intake-check');
    const shadow = result.problems.find((p) => p.path === '/intake/2')!;
    expect(shadow.message).toMatch(/never reached: rule \/intake\/0/);
  });

  it('the shipped catalog loads with its intake rules', async () => {
    const result = await loadCatalog('case-templates');
    expect(result.problems).toEqual([]);
    const social = result.templates.find((t) => t.key === 'social-complaint')!;
    expect(social.intake?.map((r) => r.action)).toEqual(['open', 'attach', 'attach', 'record']);
  });
});
