import { startsBySentry } from '../sentries.js';
import { compiledFor, emit, journal, type Draft } from '../draft.js';
import { createTemplateGoals } from '../goals.js';
import { reject } from '../rejection.js';
import { describeProblems, schemaProblems, validatorFor } from '../schema-validation.js';
import { startFragment } from '../start-fragment.js';
import type { CaseState, Command, DecideContext } from '../types.js';

type OpenCase = Extract<Command, { type: 'case.open' }>;

/** The bare case a `case.open` starts from (version 0; `decide` makes it 1). */
export function newCase(command: OpenCase, ctx: DecideContext): CaseState {
  const { input } = command;
  const now = ctx.now.toISOString();
  const c: CaseState = {
    id: ctx.newId(),
    template: { key: ctx.template.key, version: ctx.template.version },
    title: input.title,
    status: 'open',
    priority: input.priority ?? 'normal',
    externalRefs: { ...(input.externalRefs ?? {}) },
    caseFile: structuredClone(input.caseFile ?? {}),
    milestones: {},
    goals: [],
    fragments: [],
    tasks: [],
    version: 0,
    openedAt: now,
    updatedAt: now,
  };
  if (input.ownerId !== undefined) c.ownerId = input.ownerId;
  const queue = input.queue ?? ctx.template.defaultQueue;
  if (queue !== undefined) c.queue = queue;
  if (input.customer !== undefined) c.customer = { ...input.customer };
  return c;
}

/**
 * Opens a case: validates the case file against the template schema, creates the goals with
 * their deadline timers, starts the default fragments (tasks, delays).
 */
export function openCase(d: Draft): void {
  const { template } = d.ctx;
  const validate = validatorFor(d, `template:${template.key}@${template.version}`, template.caseFileSchema);
  if (!validate(d.case.caseFile)) {
    const problems = schemaProblems(validate.errors);
    reject('INVALID_CASE_FILE', `The case file does not match template ${template.key}@${template.version}: ${describeProblems(problems)}`, {
      errors: problems,
    });
  }
  journal(d, 'case.opened', {
    template: d.case.template,
    title: d.case.title,
    priority: d.case.priority,
    ...(d.case.ownerId !== undefined ? { ownerId: d.case.ownerId } : {}),
    ...(d.case.queue !== undefined ? { queue: d.case.queue } : {}),
  });
  emit(d, 'case.opened', { template: d.case.template, title: d.case.title, priority: d.case.priority });
  createTemplateGoals(d);
  for (const ref of template.defaultFragments) {
    // A default fragment with a startWhen waits for it (cases/sentries.ts, run when the decision finishes).
    if (startsBySentry(d, ref)) continue;
    startFragment(d, { id: d.ctx.newId(), ref, compiled: compiledFor(d, ref), source: 'default' });
  }
}
