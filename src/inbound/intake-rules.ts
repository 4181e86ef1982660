/**
 * The one rule system for inbound events: the templates' `intake:` rules decide what a
 * normalised intake event does. Pure (no I/O, no clock).
 *
 * Order, deterministic and documented (case-templates/README.md "Intake rules"): the latest
 * version of each template, templates sorted by key, each template's rules in file order; the
 * first rule whose `source`, `eventType`, `kind` (if given) and `when` match decides. No rule
 * matches: the event is recorded on the customer (never dropped).
 *
 * Conditions are the bounded CEL of fragments/expressions.ts over `{ event, customer }`:
 * `event` = { type, kind, source, data, externalRefs, identity, sentiment } and `customer` = the
 * customer's summary (profile, metrics; an empty map for a customer created by this event).
 * A condition over its work budget stops the decision (ExpressionLimitError names the rule):
 * reading it as "no match" would silently route the event elsewhere.
 *
 * Threading (`threadBy`) precedence, whatever the order written: an external reference of the
 * event (`ref:<name>`: the same post, order, ticket), then the identity (same channel + handle),
 * then the customer (any of their identities). The applier tries the keys in this order and takes
 * the newest active case (open or on hold) the first key finds; `open` threads only into cases of
 * its own template, `attach` into any.
 */
import { PRIORITIES, type Priority } from '../cases/types.js';
import { compileExpression, evaluateConditionOrThrow, evaluateExpression, type CompiledExpression } from '../fragments/expressions.js';
import type { Scope } from '../fragments/runtime.js';
import type { CaseTemplate, IntakeAction, IntakeRule } from '../templates/types.js';
import type { IntakeEvent } from './intake-event.js';

export type ThreadKey = { by: 'ref'; ref: string } | { by: 'identity' } | { by: 'customer' };

const PRECEDENCE: Record<ThreadKey['by'], number> = { ref: 0, identity: 1, customer: 2 };

/** Parses `ref:<name>` | `identity` | `customer`; undefined for anything else. */
export function parseThreadKey(text: string): ThreadKey | undefined {
  if (text === 'identity' || text === 'customer') return { by: text };
  const m = /^ref:([A-Za-z0-9_.-]{1,100})$/.exec(text);
  return m ? { by: 'ref', ref: m[1]! } : undefined;
}

/** The keys of a rule in precedence order (ref before identity before customer), duplicates dropped. */
export function threadKeys(texts: readonly string[] | undefined): ThreadKey[] {
  const keys = (texts ?? []).map(parseThreadKey).filter((k): k is ThreadKey => k !== undefined);
  const seen = new Set<string>();
  return keys
    .filter((k) => {
      const id = k.by === 'ref' ? `ref:${k.ref}` : k.by;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    })
    .sort((a, b) => PRECEDENCE[a.by] - PRECEDENCE[b.by]);
}

/** Problems with a rule that the file schema cannot see, each with its pointer under the rule. */
export function intakeRuleProblems(rule: IntakeRule, knownSources?: ReadonlySet<string>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const check = (path: string, source: string, expect?: 'bool') => {
    try {
      compileExpression(source, expect);
    } catch (error) {
      problems.push({ path, message: error instanceof Error ? error.message : String(error) });
    }
  };
  if (knownSources && !knownSources.has(rule.source)) {
    problems.push({ path: '/source', message: `names no inbound source "${rule.source}"; use one of ${[...knownSources].sort().join(', ')}` });
  }
  if (rule.when !== undefined) check('/when', rule.when, 'bool');
  if (rule.title !== undefined) check('/title', rule.title);
  (rule.priorityRules ?? []).forEach((r, j) => check(`/priorityRules/${j}/when`, r.when, 'bool'));
  if (rule.action === 'attach' && (rule.threadBy ?? []).length === 0) {
    problems.push({ path: '/threadBy', message: 'is required for action attach: say how the event finds its case, e.g. threadBy: [ref:post_id, identity]' });
  }
  if (rule.action === 'record') {
    for (const field of ['threadBy', 'queue', 'title', 'priorityRules'] as const) {
      if (rule[field] !== undefined) problems.push({ path: `/${field}`, message: `has no effect with action record (nothing opens or threads); remove it or use open / attach` });
    }
  }
  if (rule.action === 'attach') {
    for (const field of ['queue', 'title'] as const) {
      if (rule[field] !== undefined) problems.push({ path: `/${field}`, message: 'has no effect with action attach (no case opens); remove it or use open' });
    }
  }
  const texts = rule.threadBy ?? [];
  texts.forEach((t, k) => {
    if (!parseThreadKey(t)) problems.push({ path: `/threadBy/${k}`, message: `"${t}" is not a threading key; use ref:<name>, identity or customer` });
    else if (texts.indexOf(t) !== k) problems.push({ path: `/threadBy/${k}`, message: `"${t}" is listed twice` });
  });
  return problems;
}

export interface CompiledIntakeRule {
  template: CaseTemplate;
  index: number;
  rule: IntakeRule;
  when?: CompiledExpression;
  title?: CompiledExpression;
  priorityRules: { when: CompiledExpression; priority: Priority }[];
  threadBy: ThreadKey[];
}

/**
 * The rules in evaluation order. Rules that do not compile are left out (the catalog loader
 * refuses such a template with file:line problems, so none reach a running process).
 */
export function compileIntakeRules(templates: readonly CaseTemplate[]): CompiledIntakeRule[] {
  const out: CompiledIntakeRule[] = [];
  for (const template of [...templates].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    (template.intake ?? []).forEach((rule, index) => {
      if (intakeRuleProblems(rule).length > 0) return;
      out.push({
        template,
        index,
        rule,
        ...(rule.when !== undefined ? { when: compileExpression(rule.when, 'bool') } : {}),
        ...(rule.title !== undefined ? { title: compileExpression(rule.title) } : {}),
        priorityRules: (rule.priorityRules ?? []).map((r) => ({ when: compileExpression(r.when, 'bool'), priority: r.priority })),
        threadBy: threadKeys(rule.threadBy),
      });
    });
  }
  return out;
}

/**
 * `compileIntakeRules` of the catalog's latest templates, compiled once per list. The catalog
 * replaces its latest-templates list whenever it adds versions (a publish here, or one another
 * process published, seen through catalog-sync.ts), so a new list means new rules and the same
 * list means the rules compiled for it: runtime-published intake rules apply without a restart.
 */
const compiledByList = new WeakMap<readonly CaseTemplate[], CompiledIntakeRule[]>();
export function intakeRulesOf(latestTemplates: readonly CaseTemplate[]): CompiledIntakeRule[] {
  let rules = compiledByList.get(latestTemplates);
  if (!rules) compiledByList.set(latestTemplates, (rules = compileIntakeRules(latestTemplates)));
  return rules;
}

export interface IntakeDecision {
  /** Which rule decided: `<template>@<version>` and its index in `intake`. */
  rule: { template: string; version: number; index: number };
  action: IntakeAction;
  /** The rule's template (the case type `open` opens). */
  template: string;
  queue?: string;
  title: string;
  priority: Priority;
  /** What set the priority: `priority` or `priorityRules/<j>`. */
  prioritySource: string;
  threadBy: ThreadKey[];
}

/** The CEL scope of intake rules. */
export function intakeScope(event: IntakeEvent, extra: { sentiment?: Record<string, unknown> | undefined }, customer: Record<string, unknown>): Scope {
  return {
    caseFile: {},
    milestones: {},
    case: { id: '', status: '', priority: '' },
    event: {
      type: event.type,
      kind: event.kind,
      source: event.source,
      data: event.data,
      externalRefs: event.externalRefs,
      identity: event.customer,
      ...(extra.sentiment ? { sentiment: extra.sentiment } : {}),
    },
    customer,
  };
}

function defaultTitle(template: CaseTemplate, event: IntakeEvent): string {
  const who = event.customer.handle ?? event.customer.name ?? event.customer.email ?? event.customer.externalId;
  return who ? `${template.title}: ${who}` : template.title;
}

/**
 * The first rule that applies, or undefined (record on the customer). Throws ExpressionLimitError
 * when a condition spends its budget.
 */
export function decideIntake(rules: readonly CompiledIntakeRule[], event: IntakeEvent, scope: Scope): IntakeDecision | undefined {
  for (const r of rules) {
    if (r.rule.source !== event.source || r.rule.eventType !== event.type) continue;
    if (r.rule.kind !== undefined && r.rule.kind !== event.kind) continue;
    if (r.when && !evaluateConditionOrThrow(r.when, scope)) continue;
    let priority = r.rule.priority;
    let prioritySource = 'priority';
    for (const [j, p] of r.priorityRules.entries()) {
      if (evaluateConditionOrThrow(p.when, scope)) {
        priority = p.priority;
        prioritySource = `priorityRules/${j}`;
        break;
      }
    }
    let title = defaultTitle(r.template, event);
    if (r.title) {
      const result = evaluateExpression(r.title, scope);
      if (!result.ok && result.limit) throw result.limit;
      // A title that does not evaluate to a usable string falls back to the default: the case still opens.
      if (result.ok && typeof result.value === 'string' && result.value.trim() !== '') title = result.value.trim().slice(0, 300);
    }
    const queue = r.rule.queue ?? r.template.defaultQueue;
    return {
      rule: { template: r.template.key, version: r.template.version, index: r.index },
      action: r.rule.action,
      template: r.template.key,
      ...(queue !== undefined ? { queue } : {}),
      title,
      priority: PRIORITIES.includes(priority) ? priority : 'normal',
      prioritySource,
      threadBy: r.threadBy,
    };
  }
  return undefined;
}
