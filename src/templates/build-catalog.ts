/**
 * Turns the text of catalog files into validated templates and fragment definitions, and
 * says everything that is wrong with them at once. Pure: no file system, no clock; the
 * loader (`loadCatalog`) reads the files, the API can pass authored text directly.
 *
 * A file with any problem contributes nothing to the result, and a template whose fragment
 * has problems is left out too, so what comes back is safe to publish as it is.
 */
import { Duration } from 'luxon';
import { intakeRuleProblems } from '../inbound/intake-rules.js';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { collectFragmentFacts, type FragmentFacts } from './fragment-facts.js';
import type { LoadProblem, LoadProblemCode } from './load-problem.js';
import { joinPointer, parseSource, type ParsedSource } from './parse-source.js';
import { createSchemaChecker, type SchemaChecker } from './schema-checker.js';
import { templateFromFile, type TemplateFile } from './template-file-schema.js';
import { calendarProblems, workingDeadlineProblem } from './check-calendar.js';
import { checkSentries } from './check-sentries.js';
import { deviationProblems } from './deviation-schema.js';
import type { BusinessCalendar, CaseTemplate } from './types.js';
import { DEFAULT_THRESHOLDS, DEFAULT_WEIGHTS } from '../signals/priority-score.js';

export interface SourceFile {
  /** Shown in problems; the loader passes the path it read. */
  file: string;
  text: string;
  kind: 'template' | 'fragment';
}

/** Where each accepted definition came from (for problems found later, e.g. on publish). */
export interface CatalogOrigin {
  kind: 'template' | 'fragment';
  ref: string;
  file: string;
}

export interface CatalogResult {
  templates: CaseTemplate[];
  fragments: FragmentDefinition[];
  problems: LoadProblem[];
  origins: CatalogOrigin[];
}

export type ValidateFragmentDefinition = (
  def: unknown,
) => { ok: true; definition: FragmentDefinition } | { ok: false; problems: { path: string; message: string }[] };

/** The fragment engine's checks, passed in so this module stays a pure function of its inputs. */
export interface CatalogDeps {
  validateFragmentDefinition: ValidateFragmentDefinition;
  /** Throws (with a message that says the fix) when `source` is not a valid CEL condition. */
  compileCondition: (source: string) => void;
}

interface Parsed<T> {
  file: string;
  value: T;
  ref: string;
  source: ParsedSource;
}

export function buildCatalog(files: readonly SourceFile[], deps: CatalogDeps): CatalogResult {
  const checker = createSchemaChecker();
  const problems: LoadProblem[] = [];
  const report = (
    code: LoadProblemCode,
    file: string,
    source: ParsedSource | undefined,
    path: string,
    message: string,
    atKey = false,
  ) => {
    const at = source?.locate(path, { key: atKey });
    problems.push({ code, file, path, ...(at ? { line: at.line, column: at.column } : {}), message });
  };

  // 1. Parse and shape-check every file.
  const fragments: Parsed<FragmentDefinition>[] = [];
  const templates: Parsed<CaseTemplate>[] = [];
  for (const { file, text, kind } of files) {
    const source = parseSource(file, text);
    problems.push(...source.problems);
    if (source.problems.length > 0) continue;
    const issues = kind === 'template' ? checker.checkTemplate(source.value) : checker.checkFragment(source.value);
    for (const issue of issues) report('SCHEMA', file, source, issue.path, issue.message, issue.atKey);
    if (issues.length > 0) continue;
    if (kind === 'template') {
      const value = templateFromFile(source.value as TemplateFile);
      templates.push({ file, value, ref: `${value.key}@${value.version}`, source });
    } else {
      const value = source.value as FragmentDefinition;
      fragments.push({ file, value, ref: `${value.key}@${value.version}`, source });
    }
  }

  // 2. Fragments: machine semantics, task forms, duplicates.
  const duplicateFragments = duplicates(fragments);
  const validFragments = new Map<FragmentRef, { definition: FragmentDefinition; facts: FragmentFacts; file: string }>();
  const brokenFragments = new Map<FragmentRef, string>();
  // Facts of every fragment that passed the schema, broken or not: a template's milestone
  // check should not pile more problems on top of a fragment that is already reported.
  const factsByRef = new Map<FragmentRef, FragmentFacts>();
  for (const parsed of fragments) {
    const { file, source, ref } = parsed;
    const before = problems.length;
    const others = duplicateFragments.get(ref)?.filter((f) => f !== file) ?? [];
    if (others.length > 0) {
      report('DUPLICATE', file, source, '/version', `fragment ${ref} is also defined in ${others.join(', ')}; define each key@version once`);
    }
    const result = deps.validateFragmentDefinition(parsed.value);
    if (!result.ok) {
      for (const p of result.problems) report('INVALID_DEFINITION', file, source, toPointer(p.path, parsed.value), p.message);
    }
    // Task forms are checked by the validator, as draft 2020-12 JSON Schema (json-schema/author-schemas.ts).
    const definition = result.ok ? result.definition : parsed.value;
    const facts = collectFragmentFacts(parsed.value);
    factsByRef.set(ref, facts);
    if (problems.length === before) validFragments.set(ref, { definition, facts, file });
    else if (!validFragments.has(ref)) brokenFragments.set(ref, file);
  }
  // A duplicate ref is broken even if one of its files was fine on its own.
  for (const ref of duplicateFragments.keys()) {
    const entry = validFragments.get(ref);
    if (entry) brokenFragments.set(ref, entry.file);
    validFragments.delete(ref);
  }

  // 3. Templates: case-file schema, expressions, cross-references.
  const duplicateTemplates = duplicates(templates);
  const acceptedTemplates: Parsed<CaseTemplate>[] = [];
  for (const parsed of templates) {
    const before = problems.length;
    const { file, source, ref } = parsed;
    const at = (code: LoadProblemCode, path: string, message: string) => report(code, file, source, path, message);
    const others = duplicateTemplates.get(ref)?.filter((f) => f !== file) ?? [];
    if (others.length > 0) {
      at('DUPLICATE', '/version', `template ${ref} is also defined in ${others.join(', ')}; define each key@version once`);
    }
    checkTemplate(parsed.value, { checker, compileCondition: deps.compileCondition, validFragments, brokenFragments, factsByRef, at });
    if (problems.length === before) acceptedTemplates.push(parsed);
  }

  const acceptedFragments = [...validFragments.entries()];
  return {
    templates: acceptedTemplates.map((t) => t.value),
    fragments: acceptedFragments.map(([, f]) => f.definition),
    problems,
    origins: [
      ...acceptedTemplates.map((t) => ({ kind: 'template' as const, ref: t.ref, file: t.file })),
      ...acceptedFragments.map(([ref, f]) => ({ kind: 'fragment' as const, ref, file: f.file })),
    ],
  };
}

interface TemplateCheckContext {
  checker: SchemaChecker;
  compileCondition: (source: string) => void;
  validFragments: ReadonlyMap<FragmentRef, { facts: FragmentFacts }>;
  brokenFragments: ReadonlyMap<FragmentRef, string>;
  factsByRef: ReadonlyMap<FragmentRef, FragmentFacts>;
  at: (code: LoadProblemCode, path: string, message: string) => void;
}

/** The template checks JSON Schema cannot express. Reports through `ctx.at`. */
function checkTemplate(t: CaseTemplate, ctx: TemplateCheckContext): void {
  const { at } = ctx;
  const condition = (path: string, source: string) => {
    try {
      ctx.compileCondition(source);
    } catch (error) {
      at('INVALID_EXPRESSION', path, error instanceof Error ? error.message : String(error));
    }
  };

  // Case file schema: an object schema that Ajv compiles.
  if (t.caseFileSchema.type !== 'object') {
    at('INVALID_JSON_SCHEMA', '/caseFileSchema/type', 'the case file is a JSON object: set `type: object`');
  }
  for (const issue of ctx.checker.checkJsonSchema(t.caseFileSchema)) {
    at('INVALID_JSON_SCHEMA', '/caseFileSchema' + issue.path, `caseFileSchema is not a valid JSON Schema: ${issue.message}`);
  }

  // Fragment refs resolve, once per list.
  const fragmentsOfTemplate: { ref: FragmentRef; path: string }[] = [];
  for (const list of ['defaultFragments', 'discretionaryFragments'] as const) {
    const seen = new Set<string>();
    t[list].forEach((ref, i) => {
      const path = `/${list}/${i}`;
      if (seen.has(ref)) at('INVALID_REFERENCE', path, `${ref} is listed twice in ${list}`);
      seen.add(ref);
      if (ctx.validFragments.has(ref)) {
        fragmentsOfTemplate.push({ ref, path });
      } else if (ctx.brokenFragments.has(ref)) {
        at('INVALID_REFERENCE', path, `fragment ${ref} (${ctx.brokenFragments.get(ref)}) has problems; fix them first`);
      } else {
        at('UNKNOWN_FRAGMENT', path, unknownFragmentMessage(ref, ctx.validFragments));
      }
    });
  }

  // Milestones: unique; every milestone a goal waits for is declared and set by a fragment.
  const milestoneKeys = new Set<string>();
  t.milestones.forEach((m, i) => {
    if (milestoneKeys.has(m.key)) at('INVALID_REFERENCE', `/milestones/${i}/key`, `milestone \`${m.key}\` is declared twice`);
    milestoneKeys.add(m.key);
  });
  const settable = new Set(
    [...t.defaultFragments, ...t.discretionaryFragments].flatMap((ref) => ctx.factsByRef.get(ref)?.milestones ?? []),
  );

  // Goals: unique keys, conditions compile, milestones reachable.
  const goals = new Map<string, number>();
  t.goals.forEach((goal, i) => {
    if (goals.has(goal.key)) at('INVALID_REFERENCE', `/goals/${i}/key`, `goal \`${goal.key}\` is declared twice`);
    goals.set(goal.key, i);
    condition(`/goals/${i}/condition`, goal.condition);
    for (const key of milestonesNamedIn(goal.condition)) {
      if (!milestoneKeys.has(key)) {
        at('INVALID_REFERENCE', `/goals/${i}/condition`, `goal \`${goal.key}\` waits for milestone \`${key}\`, which is not declared in \`milestones\``);
      } else if (!settable.has(key)) {
        at(
          'INVALID_REFERENCE',
          `/goals/${i}/condition`,
          `goal \`${goal.key}\` waits for milestone \`${key}\`, but no default or discretionary fragment sets it (setMilestone)`,
        );
      }
    }
    if (goal.deadlineFrom !== undefined) {
      const key = goal.deadlineFrom.milestone;
      if (goal.deadline === undefined) {
        at('INVALID_REFERENCE', `/goals/${i}/deadlineFrom`, `goal \`${goal.key}\` starts its deadline at a milestone but has no \`deadline\`; add one (e.g. P2D)`);
      } else if (!milestoneKeys.has(key)) {
        at('INVALID_REFERENCE', `/goals/${i}/deadlineFrom/milestone`, `milestone \`${key}\` is not declared in \`milestones\``);
      } else if (!settable.has(key)) {
        at('INVALID_REFERENCE', `/goals/${i}/deadlineFrom/milestone`, `no default or discretionary fragment sets milestone \`${key}\` (setMilestone), so the deadline would never start`);
      }
    }
  });

  // Sentries: known fragments, compiling conditions, no start/exit loops.
  checkSentries(t, { factsByRef: ctx.factsByRef, milestonesNamedIn, condition, at });

  // Escalation fragments are part of the template's plan: known, and their tasks need its roles.
  (t.slas ?? []).forEach((sla, i) => {
    for (const list of ['onWarning', 'onBreach'] as const) {
      (sla[list] ?? []).forEach((e, j) => {
        if (e.action !== 'startFragment') return;
        const path = `/slas/${i}/${list}/${j}/fragment`;
        if (ctx.validFragments.has(e.fragment)) fragmentsOfTemplate.push({ ref: e.fragment, path });
        else at('UNKNOWN_FRAGMENT', path, unknownFragmentMessage(e.fragment, ctx.validFragments));
      });
    }
  });

  // Reach / virality escalations: one positive threshold each, no threshold twice, known fragments and roles.
  const seenThresholds = new Map<string, number>();
  (t.escalations ?? []).forEach((e, i) => {
    const base = `/escalations/${i}`;
    const metrics = (['reach', 'virality'] as const).filter((m) => e.when[m] !== undefined);
    if (metrics.length !== 1) {
      at('INVALID_PRIORITY', `${base}/when`, metrics.length === 0 ? 'needs a threshold: `reach: <people>` or `virality: <engagements per hour>`' : 'has both reach and virality; write two escalations, one per threshold');
    } else {
      const metric = metrics[0]!;
      const value = e.when[metric]!;
      if (!Number.isFinite(value) || value <= 0) at('INVALID_PRIORITY', `${base}/when/${metric}`, `${metric} threshold must be a number > 0 (got ${value})`);
      const key = `${metric}>=${value}`;
      const earlier = seenThresholds.get(key);
      if (earlier !== undefined) at('INVALID_PRIORITY', `${base}/when/${metric}`, `${key} is already escalation ${earlier}; merge their actions`);
      seenThresholds.set(key, i);
    }
    if (e.actions.length === 0 && e.raisePriority === undefined) at('INVALID_PRIORITY', `${base}/actions`, 'does nothing: give it actions or a raisePriority');
    e.actions.forEach((a, j) => {
      const path = `${base}/actions/${j}`;
      if (a.action === 'startFragment') {
        if (ctx.validFragments.has(a.fragment)) fragmentsOfTemplate.push({ ref: a.fragment, path: `${path}/fragment` });
        else at('UNKNOWN_FRAGMENT', `${path}/fragment`, unknownFragmentMessage(a.fragment, ctx.validFragments));
      }
      if (a.action === 'reassign' && a.queue === undefined) at('INVALID_PRIORITY', path, 'reassign needs a `queue` to move the case to');
      if ((a.action === 'notify' || a.action === 'reassign') && a.role !== undefined && !t.roles.includes(a.role)) {
        at('INVALID_REFERENCE', `${path}/role`, `role \`${a.role}\` is not in \`roles\``);
      }
    });
  });

  // Priority: weights >= 0 (and not all 0), thresholds within 0..100 and strictly increasing.
  if (t.priority) {
    const weights = t.priority.weights ?? {};
    for (const [factor, w] of Object.entries(weights)) {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) at('INVALID_PRIORITY', `/priority/weights/${factor}`, `weight must be a number >= 0 (got ${w}); 0 turns the factor off`);
    }
    const merged = { ...DEFAULT_WEIGHTS, ...weights };
    if (Object.values(merged).every((w) => w === 0)) at('INVALID_PRIORITY', '/priority/weights', 'every weight is 0: the score would always be 0; give some factor a weight > 0');
    const thresholds = { ...DEFAULT_THRESHOLDS, ...(t.priority.thresholds ?? {}) };
    for (const [name, v] of Object.entries(t.priority.thresholds ?? {})) {
      if (!Number.isFinite(v) || v < 0 || v > 100) at('INVALID_PRIORITY', `/priority/thresholds/${name}`, `must be a score from 0 to 100 (got ${v})`);
    }
    if (!(thresholds.normal < thresholds.high && thresholds.high < thresholds.urgent)) {
      at(
        'INVALID_PRIORITY',
        '/priority/thresholds',
        `must increase: normal < high < urgent (got normal ${thresholds.normal}, high ${thresholds.high}, urgent ${thresholds.urgent}, defaults filled in)`,
      );
    }
  }

  // Roles: every task of the template's fragments can be worked by one of its roles.
  const roles = new Set(t.roles);
  for (const { ref, path } of fragmentsOfTemplate) {
    const missing = new Set(
      (ctx.validFragments.get(ref)?.facts.tasks ?? [])
        .map(({ task }) => task.role)
        .filter((role): role is string => role !== undefined && !roles.has(role)),
    );
    for (const role of missing) {
      at('INVALID_REFERENCE', path, `fragment ${ref} opens tasks for role \`${role}\`, which is not in \`roles\``);
    }
  }

  // Intake: conditions compile (CEL over { event, customer }); rules can work and can be reached.
  (t.intake ?? []).forEach((rule, i) => {
    for (const p of intakeRuleProblems(rule)) {
      at(p.path.endsWith('/when') || p.path === '/title' ? 'INVALID_EXPRESSION' : 'INVALID_INTAKE_RULE', `/intake/${i}${p.path}`, p.message);
    }
    // First match wins: an earlier rule for the same source, event type and kind without `when` takes every such event.
    const shadow = (t.intake ?? []).findIndex(
      (e, j) => j < i && e.when === undefined && e.source === rule.source && e.eventType === rule.eventType && (e.kind === undefined || e.kind === rule.kind),
    );
    if (shadow >= 0) {
      at('INVALID_INTAKE_RULE', `/intake/${i}`, `is never reached: rule /intake/${shadow} (same source and eventType, no \`when\`) matches first; move this rule above it or give that one a \`when\``);
    }
  });

  // Behaviour deviation: thresholds that make sense, kinds that customers record.
  if (t.deviation) for (const p of deviationProblems(t.deviation)) at('INVALID_DEVIATION', p.path, p.message);

  // Business calendars: real zones, intervals and dates; deadlines they can count.
  const checkCalendar = (calendar: BusinessCalendar, path: string) => {
    for (const p of calendarProblems(calendar)) at('INVALID_CALENDAR', path + p.path, p.message);
  };
  if (t.calendar) checkCalendar(t.calendar, '/calendar');
  t.goals.forEach((goal, i) => {
    if (goal.deadlineCalendar) checkCalendar(goal.deadlineCalendar, `/goals/${i}/deadlineCalendar`);
    const problem = goal.deadline !== undefined && (goal.deadlineCalendar ?? t.calendar) ? workingDeadlineProblem(goal.deadline) : undefined;
    if (problem) at('INVALID_CALENDAR', `/goals/${i}/deadline`, problem);
    // The warning point is counted back in the same working time.
    const warnBefore = (t.slas ?? []).find((s) => s.goal === goal.key)?.warnBefore;
    const warnProblem = warnBefore !== undefined && (goal.deadlineCalendar ?? t.calendar) ? workingDeadlineProblem(warnBefore) : undefined;
    if (warnProblem) at('INVALID_CALENDAR', `/slas/${(t.slas ?? []).findIndex((s) => s.goal === goal.key)}/warnBefore`, warnProblem.replace(/^deadline/, 'warnBefore'));
  });
  // Under the template's calendar, ISO `after` delays and task due times count working time too.
  if (t.calendar) {
    for (const { ref, path } of fragmentsOfTemplate) {
      const facts = ctx.validFragments.get(ref)?.facts;
      const durations = [
        ...(facts?.delays ?? []).filter((d) => d.delay.startsWith('P')).map((d) => ({ what: `its \`after\` delay ${d.delay} (state ${d.state})`, value: d.delay })),
        ...(facts?.tasks ?? []).flatMap(({ state, task }) => (task.due?.startsWith('P') ? [{ what: `its task due ${task.due} (state ${state})`, value: task.due }] : [])),
      ];
      for (const { what, value } of durations) {
        if (workingDeadlineProblem(value)) {
          at('INVALID_CALENDAR', path, `fragment ${ref} counts ${what} in the template's working time, which cannot count weeks, months or years; write working days (e.g. P5D) in a new fragment version`);
        }
      }
    }
  }

  // SLAs: name a goal with a deadline, warn before it, escalate to known roles.
  const slaGoals = new Set<string>();
  (t.slas ?? []).forEach((sla, i) => {
    const goalIndex = goals.get(sla.goal);
    const goal = goalIndex === undefined ? undefined : t.goals[goalIndex];
    if (slaGoals.has(sla.goal)) at('INVALID_REFERENCE', `/slas/${i}/goal`, `goal \`${sla.goal}\` has two SLAs; merge them`);
    slaGoals.add(sla.goal);
    if (goal === undefined) {
      at('INVALID_REFERENCE', `/slas/${i}/goal`, `no goal \`${sla.goal}\` in this template (goals: ${[...goals.keys()].join(', ')})`);
    } else if (goal.deadline === undefined) {
      at('INVALID_REFERENCE', `/slas/${i}/goal`, `goal \`${sla.goal}\` has no deadline; give it one or drop the SLA`);
    } else if (sla.warnBefore !== undefined && millis(sla.warnBefore) >= millis(goal.deadline)) {
      at('INVALID_REFERENCE', `/slas/${i}/warnBefore`, `warnBefore ${sla.warnBefore} is not shorter than the deadline ${goal.deadline}`);
    }
    for (const list of ['onWarning', 'onBreach'] as const) {
      (sla[list] ?? []).forEach((e, j) => {
        if ('role' in e && e.role !== undefined && !roles.has(e.role)) {
          at('INVALID_REFERENCE', `/slas/${i}/${list}/${j}/role`, `role \`${e.role}\` is not in \`roles\``);
        }
      });
    }
  });
}

/** Milestone keys a CEL condition names literally: `'key' in milestones`, `milestones.key`, `milestones['key']`. */
export function milestonesNamedIn(condition: string): string[] {
  const keys = new Set<string>();
  for (const m of condition.matchAll(/(['"])([A-Za-z0-9_.-]+)\1\s+in\s+milestones\b/g)) keys.add(m[2]!);
  for (const m of condition.matchAll(/\bmilestones\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['"])([A-Za-z0-9_.-]+)\2\s*\])/g)) {
    keys.add((m[1] ?? m[3])!);
  }
  return [...keys];
}

function unknownFragmentMessage(ref: string, known: ReadonlyMap<FragmentRef, unknown>): string {
  const key = ref.slice(0, ref.lastIndexOf('@'));
  const versions = [...known.keys()].filter((r) => r.startsWith(`${key}@`));
  return versions.length > 0
    ? `no fragment ${ref} in the catalog; known versions: ${versions.join(', ')}`
    : `no fragment ${ref} in the catalog; add fragments/${key}.yaml or fix the ref`;
}

function duplicates<T extends { ref: string; file: string }>(items: readonly T[]): Map<string, string[]> {
  const byRef = new Map<string, string[]>();
  for (const item of items) byRef.set(item.ref, [...(byRef.get(item.ref) ?? []), item.file]);
  return new Map([...byRef].filter(([, files]) => files.length > 1));
}

/**
 * The fragment validator names places with dotted paths and `[i]` indices
 * (`machine.states.review.on.refund.approved[0].guard`); problems use JSON pointers.
 * Event types and delays may contain dots, so keys are matched against the document,
 * longest first. Pointers pass through unchanged.
 */
export function toPointer(path: string, document: unknown): string {
  if (path === '' || path.startsWith('/')) return path;
  const tokens = path.split('.');
  const segments: string[] = [];
  let node: unknown = document;
  let i = 0;
  while (i < tokens.length) {
    let matched = false;
    for (let j = tokens.length; j > i && !matched; j--) {
      const candidate = tokens.slice(i, j).join('.');
      const m = /^(.*?)((?:\[\d+\])*)$/.exec(candidate);
      const key = m?.[1] ?? candidate;
      const indices = [...(m?.[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => x[1]!);
      const holder = node as Record<string, unknown> | null;
      if (typeof holder !== 'object' || holder === null || !Object.hasOwn(holder, key)) continue;
      let next: unknown = holder[key];
      for (const index of indices) next = Array.isArray(next) ? next[Number(index)] : undefined;
      segments.push(key, ...indices);
      node = next;
      i = j;
      matched = true;
    }
    if (!matched) {
      // Not in the document (e.g. a missing required key): keep the rest as plain segments.
      for (const token of tokens.slice(i)) {
        const m = /^(.*?)((?:\[\d+\])*)$/.exec(token);
        segments.push(m?.[1] ?? token, ...[...(m?.[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => x[1]!));
      }
      break;
    }
  }
  return joinPointer(segments);
}

function millis(iso: string): number {
  return Duration.fromISO(iso).as('milliseconds');
}
