/**
 * Plan as of any version is the live case at that version. Random command sequences go through
 * the real command path (HTTP routes and the timer firer, real Postgres); after every command the
 * test keeps the case row as it was. Then every version is rebuilt from the journal alone and
 * must equal what the case was — the whole aggregate, not only its plan — and the plan route
 * answers the same plan for the version and for the time that version was made.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { planView } from '../../src/cases/plan-view.js';
import type { CaseState } from '../../src/cases/types.js';
import { reconstructCase } from '../../src/history/reconstruct-plan.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

/** Versions reached per run: the property must have met real histories, not just opens. */
const reached: number[] = [];

const TEMPLATES = {
  'billing-dispute': { discretionary: ['refund-approval@1', 'credit-note@1'], caseFile: { account: { id: 'acc-1' }, charge: { id: 'ch-1', amount: 120 } } },
  'social-complaint': { discretionary: ['goodwill-gesture@1', 'follow-up-survey@1', 'escalate-to-pr@1'], caseFile: {} },
  'product-repair': { discretionary: [], caseFile: { order: { id: 'ord-1', purchasedAt: '2025-11-02' }, device: { model: 'Barista Pro' } } },
} as const;
type TemplateKey = keyof typeof TEMPLATES;

const STEP_KINDS = ['event', 'complete', 'add', 'checklist', 'cancel', 'jump', 'goal', 'deadline', 'note', 'reassign', 'timer', 'hold', 'close'] as const;
const stepArb = fc.record({ kind: fc.constantFrom(...STEP_KINDS), pick: fc.nat(1000) });

/** A value for every required field of a task form, so completing it usually succeeds. */
function fillForm(form: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of form?.required ?? []) {
    const p = form.properties?.[key] ?? {};
    if (Array.isArray(p.enum)) out[key] = p.enum[0];
    else if (p.type === 'boolean') out[key] = true;
    else if (p.type === 'number' || p.type === 'integer') out[key] = p.minimum ?? 1;
    else out[key] = p.format === 'date' ? '2026-12-01' : 'x';
  }
  return out;
}

function pickOf<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/** Runs one step against the case as it is now; a refusal (4xx) is a fine outcome: it writes nothing. */
async function runStep(c: CaseView, template: TemplateKey, step: { kind: (typeof STEP_KINDS)[number]; pick: number }): Promise<void> {
  const post = (url: string, body: Record<string, unknown>) => api.call(supervisor, 'POST', url, body);
  const active = c.fragments.filter((f) => f.status === 'active');
  switch (step.kind) {
    case 'event': {
      const type = pickOf(c.accepted_events, step.pick);
      if (type) await post(`/v1/cases/${c.id}/events`, { type });
      return;
    }
    case 'complete': {
      const task = pickOf(c.tasks, step.pick) as (CaseView['tasks'][number] & { form?: unknown }) | undefined;
      if (task) await post(`/v1/tasks/${task.id}/complete`, { output: fillForm(task.form) });
      return;
    }
    case 'add': {
      const ref = pickOf(TEMPLATES[template].discretionary, step.pick);
      if (ref) await post(`/v1/cases/${c.id}/fragments`, { ref, reason: 'property test' });
      return;
    }
    case 'checklist':
      await post(`/v1/cases/${c.id}/fragments`, { checklist: { title: `Checklist ${step.pick}`, steps: ['one', 'two'] } });
      return;
    case 'cancel': {
      const f = pickOf(active, step.pick);
      if (f) await post(`/v1/cases/${c.id}/fragments/${f.id}/adapt`, { action: 'cancel', reason: 'not needed' });
      return;
    }
    case 'jump': {
      const f = pickOf(active, step.pick);
      const definition = f && t.core.catalog.fragment(f.definition);
      const states = definition ? Object.keys((definition.machine as { states?: Record<string, unknown> }).states ?? {}) : [];
      const state = pickOf(states, step.pick >> 3);
      if (f && state) await post(`/v1/cases/${c.id}/fragments/${f.id}/adapt`, { action: 'jump', state, reason: 'skip ahead' });
      return;
    }
    case 'goal':
      await post(`/v1/cases/${c.id}/goals`, {
        key: `g${step.pick}`,
        title: 'Extra goal',
        condition: "'never' in milestones",
        required: false,
        deadline_at: new Date(Date.now() + (step.pick % 2 === 0 ? -60_000 : 3_600_000)).toISOString(),
      });
      return;
    case 'deadline': {
      const g = pickOf(c.goals.filter((x) => x.status === 'open'), step.pick);
      if (g) await api.call(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/${g.key}`, { deadline_at: new Date(Date.now() + 7_200_000).toISOString(), reason: 'customer asked' });
      return;
    }
    case 'note':
      await post(`/v1/cases/${c.id}/content`, { kind: 'note', data: { text: `note ${step.pick}` } });
      return;
    case 'reassign':
      await post(`/v1/cases/${c.id}/reassign`, { queue: step.pick % 2 === 0 ? 'tier-2' : 'billing', reason: 'load' });
      return;
    case 'timer': {
      const pending = await t.database.db
        .selectFrom('timers').select(['id']).where('case_id', '=', c.id).where('status', '=', 'pending').orderBy('due_at').orderBy('id').execute();
      const timer = pickOf(pending, step.pick);
      if (timer) await t.core.runner.fireTimers([{ timerId: timer.id, caseId: c.id }]);
      return;
    }
    case 'hold':
      await post(`/v1/cases/${c.id}/${c.status === 'on_hold' ? 'resume' : 'hold'}`, { reason: 'waiting on the customer' });
      return;
    case 'close':
      if (step.pick % 4 === 0) await post(`/v1/cases/${c.id}/close`, { reason: 'done here' });
      return;
  }
}

async function liveRow(caseId: string): Promise<CaseState> {
  const row = await t.database.db.selectFrom('cases').select('state').where('id', '=', caseId).executeTakeFirstOrThrow();
  return row.state as CaseState;
}

describe('plan as of any version', () => {
  test.prop([fc.constantFrom(...(Object.keys(TEMPLATES) as TemplateKey[])), fc.array(stepArb, { minLength: 4, maxLength: 18 })], { numRuns: 12 })(
    'the journal folded to version v is the case as it was at version v',
    async (template, steps) => {
      let c = await api.open(supervisor, { template, title: 'Property case', customer: { id: `cust-${template}` }, case_file: TEMPLATES[template].caseFile });
      const live = new Map<number, CaseState>([[1, await liveRow(c.id)]]);
      for (const step of steps) {
        await runStep(c, template, step);
        const state = await liveRow(c.id);
        live.set(state.version, state);
        c = await api.get(supervisor, c.id);
      }
      const last = Math.max(...live.keys());
      reached.push(last);
      // Every version was seen: a command writes exactly one version.
      expect([...live.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      for (const [version, state] of live) {
        const rebuilt = await reconstructCase(t.database.db, t.core, c.id, { version });
        expect(rebuilt?.complete, `version ${version}: ${rebuilt?.diverged?.reason}`).toBe(true);
        expect(rebuilt!.state, `version ${version} of ${template}`).toEqual(state);
      }
      // Over HTTP: by version, and by the time a version was made (the last version made by then).
      const version = 1 + (steps.length % last);
      const byVersion = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/plan?at=${version}`), 200).json();
      expect(byVersion).toEqual({ plan: planView(live.get(version)!), requested: { version }, complete: true, diverged: null });
      const at = live.get(version)!.updatedAt;
      const sameTime = [...live.values()].filter((s) => Date.parse(s.updatedAt) <= Date.parse(at)).map((s) => s.version);
      const byTime = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/plan?at=${encodeURIComponent(at)}`), 200).json();
      expect(byTime.plan).toEqual(planView(live.get(Math.max(...sameTime))!));
    },
    120_000,
  );

  test('the generated histories were long enough to mean something', () => {
    expect(reached.length).toBeGreaterThan(0);
    expect(Math.max(...reached)).toBeGreaterThanOrEqual(8);
  });
});
