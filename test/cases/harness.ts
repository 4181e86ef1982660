/**
 * Test harness for the pure case engine: an injected clock, sequential ids, inline templates
 * and fragment definitions, and deep-frozen inputs (a mutation of the input throws).
 */
import { expect } from 'vitest';
import { createEngine, type EngineOptions } from '../../src/cases/engine.js';
import type { Actor, CaseState, Command, CustomerValue, DecideContext, Decision, Effect, OpenCaseInput } from '../../src/cases/types.js';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import type { CaseTemplate } from '../../src/templates/types.js';

export const AGENT: Actor = { id: 'ana', role: 'agent' };
export const SUPERVISOR: Actor = { id: 'sam', role: 'supervisor' };
export const TIMER: Actor = { id: 'timer', role: 'system' };

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** Intake: triage task -> waiting (1 min delay escalates) -> done on REPLY. */
export const INTAKE_V1: FragmentDefinition = {
  key: 'intake',
  version: 1,
  title: 'Intake',
  machine: {
    id: 'intake',
    initial: 'triage',
    states: {
      triage: {
        tags: ['task'],
        meta: {
          task: {
            title: 'Triage the complaint',
            role: 'agent',
            due: 'PT1H',
            event: 'TRIAGED',
            form: {
              type: 'object',
              properties: { severity: { type: 'string', enum: ['low', 'high'] } },
              required: ['severity'],
              additionalProperties: false,
            },
          },
        },
        on: {
          TRIAGED: {
            target: 'waiting',
            actions: [{ type: 'assignCaseFile', params: { path: 'triage.severity', fromEvent: 'data.severity' } }],
          },
        },
      },
      waiting: {
        after: { 60000: 'escalated' },
        on: { REPLY: { target: 'done', actions: [{ type: 'setMilestone', params: { key: 'replied' } }] } },
      },
      escalated: {
        entry: [
          { type: 'setPriority', params: { priority: 'high' } },
          { type: 'emit', params: { eventType: 'complaint.escalated', data: { level: 1 } } },
        ],
        on: { REPLY: { target: 'done', actions: [{ type: 'setMilestone', params: { key: 'replied' } }] } },
      },
      done: { type: 'final' },
    },
  },
};

/** Refund v1: an approval task, then paid. */
export const REFUND_V1: FragmentDefinition = {
  key: 'refund',
  version: 1,
  title: 'Refund approval',
  machine: {
    id: 'refund',
    initial: 'review',
    states: {
      review: {
        tags: ['task'],
        meta: { task: { title: 'Approve the refund', role: 'supervisor', queue: 'approvals', event: 'APPROVE' } },
        on: { APPROVE: 'paid', HOLD: 'onHold' },
      },
      onHold: { after: { 30000: 'review' }, on: { RESUME: 'review' } },
      paid: { type: 'final', entry: [{ type: 'setMilestone', params: { key: 'refunded' } }] },
    },
  },
};

/** Refund v2: `review` is renamed `assess`; `onHold` is gone. */
export const REFUND_V2: FragmentDefinition = {
  key: 'refund',
  version: 2,
  title: 'Refund approval (v2)',
  machine: {
    id: 'refund',
    initial: 'assess',
    states: {
      assess: {
        tags: ['task'],
        meta: { task: { title: 'Assess the refund', role: 'supervisor', event: 'APPROVE' } },
        after: { 120000: 'paid' },
        on: { APPROVE: 'paid' },
      },
      paid: { type: 'final', entry: [{ type: 'setMilestone', params: { key: 'refunded' } }] },
    },
  },
};

/** Offered on the planning table but not used by the template's defaults. */
export const PUBLIC_REPLY_V1: FragmentDefinition = {
  key: 'public-reply',
  version: 1,
  title: 'Public reply',
  machine: {
    id: 'publicReply',
    initial: 'drafting',
    states: {
      drafting: { on: { POSTED: 'posted' } },
      posted: { type: 'final', entry: [{ type: 'setMilestone', params: { key: 'publicReply' } }] },
    },
  },
};

export const TEMPLATE: CaseTemplate = {
  key: 'complaint',
  version: 1,
  title: 'Customer complaint',
  caseFileSchema: {
    type: 'object',
    properties: { orderId: { type: 'string', minLength: 1 }, amount: { type: 'number', minimum: 0 } },
    required: ['orderId'],
  },
  goals: [
    { key: 'replied', title: 'Reply to the customer', condition: 'has(milestones.replied)', required: true, deadline: 'PT4H' },
    { key: 'triaged', title: 'Triage', condition: 'has(caseFile.triage)', required: false },
  ],
  milestones: [{ key: 'replied', title: 'Replied' }],
  defaultFragments: ['intake@1'],
  discretionaryFragments: ['refund@1', 'public-reply@1'],
  roles: ['agent', 'supervisor'],
  defaultQueue: 'complaints',
  resolution: 'auto',
};

/**
 * TEMPLATE with an SLA on `replied` (due 4h after open, 13:00Z; at risk 1h before, 12:00Z) and
 * holds allowed.
 */
export const SLA_TEMPLATE: CaseTemplate = {
  ...TEMPLATE,
  pausable: true,
  slas: [
    {
      goal: 'replied',
      warnBefore: 'PT1H',
      onWarning: [{ action: 'notify', role: 'supervisor' }],
      onBreach: [
        { action: 'setPriority', priority: 'urgent' },
        { action: 'reassign', role: 'supervisor', queue: 'complaint-leads' },
        { action: 'notify', queue: 'complaint-leads' },
      ],
    },
  ],
};

export const START = '2026-01-05T09:00:00.000Z';

export interface Harness {
  /** Decides with a frozen input and checks the input did not change. */
  decide(state: CaseState | undefined, command: Command, actor?: Actor): Decision;
  /** Decides and expects success. */
  ok(state: CaseState | undefined, command: Command, actor?: Actor): Extract<Decision, { ok: true }>;
  /** Decides, expects a rejection with `code`, no effects; returns the error. */
  rejects(state: CaseState, command: Command, code: string, actor?: Actor): Extract<Decision, { ok: false }>['error'];
  open(input?: Partial<OpenCaseInput>): CaseState;
  advance(ms: number): void;
  /** Sets the clock to an ISO time. */
  at(iso: string): void;
  now(): Date;
  definitions: Map<string, FragmentDefinition>;
}

export function createHarness(
  options: {
    template?: CaseTemplate;
    definitions?: FragmentDefinition[];
    engine?: EngineOptions;
    /** The customer value every decision sees (as the command runner would look it up). */
    customerValue?: () => CustomerValue | null | undefined;
  } = {},
): Harness {
  const template = options.template ?? TEMPLATE;
  const definitions = new Map<string, FragmentDefinition>();
  for (const def of options.definitions ?? [INTAKE_V1, REFUND_V1, REFUND_V2, PUBLIC_REPLY_V1]) {
    definitions.set(`${def.key}@${def.version}`, def);
  }
  const engine = createEngine(options.engine);
  let now = new Date(START);
  let sequence = 0;
  const context = (actor: Actor): DecideContext => ({
    now,
    actor,
    newId: () => `id-${++sequence}`,
    template,
    definitions: (ref) => definitions.get(ref),
    ...(options.customerValue?.() !== undefined ? { customerValue: options.customerValue() } : {}),
  });

  const harness: Harness = {
    definitions,
    now: () => now,
    advance(ms) {
      now = new Date(now.getTime() + ms);
    },
    at(iso) {
      now = new Date(iso);
    },
    decide(state, command, actor = AGENT) {
      const before = state === undefined ? undefined : structuredClone(state);
      if (state) deepFreeze(state);
      deepFreeze(command);
      const decision = engine.decide(state, command, context(actor));
      if (state) expect(state).toEqual(before);
      // The edge stores authored definitions; later commands resolve them from there.
      if (decision.ok) {
        for (const e of decision.effects) {
          if (e.type === 'definition.store') definitions.set(`${e.definition.key}@${e.definition.version}`, e.definition);
        }
        // The output must be plain JSON, as the edge will store it.
        expect(JSON.parse(JSON.stringify(decision.case))).toEqual(decision.case);
      }
      return decision;
    },
    ok(state, command, actor) {
      const decision = harness.decide(state, command, actor);
      if (!decision.ok) throw new Error(`expected ${command.type} to succeed, got ${decision.error.code}: ${decision.error.message}`);
      return decision;
    },
    rejects(state, command, code, actor) {
      const decision = harness.decide(state, command, actor);
      if (decision.ok) throw new Error(`expected ${command.type} to be rejected with ${code}, but it succeeded`);
      expect(decision.error.code).toBe(code);
      expect(decision).not.toHaveProperty('effects');
      expect(decision).not.toHaveProperty('journal');
      expect(decision).not.toHaveProperty('case');
      return decision.error;
    },
    open(input = {}) {
      return harness.ok(undefined, {
        type: 'case.open',
        input: { title: 'Late delivery', caseFile: { orderId: 'A-1' }, ...input },
      }).case;
    },
  };
  return harness;
}

export function effectsOf<T extends Effect['type']>(effects: Effect[], type: T): Extract<Effect, { type: T }>[] {
  return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
}

export function outbox(effects: Effect[]): string[] {
  return effectsOf(effects, 'outbox.emit').map((e) => e.event.type);
}

export function journalTypes(decision: { journal: { type: string }[] }): string[] {
  return decision.journal.map((j) => j.type);
}

export function openTask(state: CaseState, stateKey: string) {
  const task = state.tasks.find((t) => t.stateKey === stateKey && t.status === 'open');
  if (!task) throw new Error(`no open task for ${stateKey}; open: ${state.tasks.map((t) => t.stateKey).join(', ')}`);
  return task;
}

export function fragmentByKey(state: CaseState, key: string) {
  const f = state.fragments.find((x) => x.definition.startsWith(`${key}@`));
  if (!f) throw new Error(`no fragment ${key}`);
  return f;
}
