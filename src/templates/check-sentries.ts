/**
 * Load-time checks of a template's sentries (`startWhen` / `exitWhen`): each names a default or
 * discretionary fragment, has a criterion, and its conditions compile — and no criteria form a
 * loop. A loop is a cycle of "X's criterion reads what Y does" (Y's milestones, or
 * `fragments['y']`) that passes through a start and an exit: A starts on what B does and B exits
 * on what A does (or A exits on what its own start does), so the plan would start and stop itself.
 */
import type { FragmentRef } from '../fragments/types.js';
import type { FragmentFacts } from './fragment-facts.js';
import type { LoadProblemCode } from './load-problem.js';
import type { CaseTemplate } from './types.js';

const keyOf = (ref: string) => ref.slice(0, ref.lastIndexOf('@'));

/** Fragment keys a condition reads: `fragments['key']`, `fragments["key"]`, `fragments.key`. */
export function fragmentsNamedIn(condition: string): string[] {
  const keys = new Set<string>();
  for (const m of condition.matchAll(/\bfragments\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['"])([A-Za-z0-9_.-]+)\2\s*\])/g)) keys.add((m[1] ?? m[3])!);
  return [...keys];
}

interface Edge {
  from: string;
  to: string;
  kind: 'start' | 'exit';
  sentry: number;
}

export function checkSentries(
  t: CaseTemplate,
  ctx: {
    factsByRef: ReadonlyMap<FragmentRef, FragmentFacts>;
    milestonesNamedIn: (condition: string) => string[];
    condition: (path: string, source: string) => void;
    at: (code: LoadProblemCode, path: string, message: string) => void;
  },
): void {
  const sentries = t.sentries ?? [];
  if (sentries.length === 0) return;
  const planned = [...t.defaultFragments, ...t.discretionaryFragments];
  sentries.forEach((s, i) => {
    if (!planned.includes(s.fragment)) {
      ctx.at('INVALID_REFERENCE', `/sentries/${i}/fragment`, `${s.fragment} is neither a default nor a discretionary fragment of this template; list it in one of them first`);
    }
    if (s.startWhen === undefined && s.exitWhen === undefined) {
      ctx.at('INVALID_REFERENCE', `/sentries/${i}`, 'a sentry needs startWhen, exitWhen or both');
    }
    if (s.startWhen !== undefined) ctx.condition(`/sentries/${i}/startWhen`, s.startWhen);
    if (s.exitWhen !== undefined) ctx.condition(`/sentries/${i}/exitWhen`, s.exitWhen);
  });

  // What each planned fragment does that a condition can read.
  const produces = new Map<string, Set<string>>();
  for (const ref of planned) {
    const key = keyOf(ref);
    const set = produces.get(key) ?? new Set<string>();
    for (const m of ctx.factsByRef.get(ref)?.milestones ?? []) set.add(`milestone:${m}`);
    set.add(`fragment:${key}`);
    produces.set(key, set);
  }
  const reads = (condition: string) => [
    ...ctx.milestonesNamedIn(condition).map((m) => `milestone:${m}`),
    ...fragmentsNamedIn(condition).map((k) => `fragment:${k}`),
  ];
  const edges: Edge[] = [];
  sentries.forEach((s, i) => {
    for (const [kind, condition] of [['start', s.startWhen], ['exit', s.exitWhen]] as const) {
      if (condition === undefined) continue;
      const read = reads(condition);
      for (const [key, made] of produces) if (read.some((r) => made.has(r))) edges.push({ from: keyOf(s.fragment), to: key, kind, sentry: i });
    }
  });
  const reachable = (from: string, to: string): boolean => {
    const seen = new Set<string>([from]);
    const queue = [from];
    while (queue.length > 0) {
      const at = queue.shift()!;
      if (at === to) return true;
      for (const e of edges) if (e.from === at && !seen.has(e.to)) (seen.add(e.to), queue.push(e.to));
    }
    return false;
  };
  const reported = new Set<number>();
  for (const start of edges.filter((e) => e.kind === 'start')) {
    for (const exit of edges.filter((e) => e.kind === 'exit')) {
      if (reported.has(start.sentry)) continue;
      // start.from -> start.to ~> exit.from -> exit.to ~> start.from closes a start/exit cycle.
      if (reachable(start.to, exit.from) && reachable(exit.to, start.from)) {
        reported.add(start.sentry);
        ctx.at(
          'SENTRY_LOOP',
          `/sentries/${start.sentry}/startWhen`,
          `sentries loop: ${start.from} starts on what ${start.to} does, and ${exit.from} exits (sentry ${exit.sentry}) on what ${exit.to} does, ` +
            'so the plan would start and stop itself; make one of the criteria depend on something outside the circle',
        );
      }
    }
  }
}
