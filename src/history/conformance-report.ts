/**
 * Conformance per case and per template: each case's journal replayed through its pinned
 * definitions and measured against its template version (cases/conformance.ts), then aggregated.
 * Cases are read in pages of REPORT_PAGE, so a report over a long history holds one page of
 * journals at a time.
 */
import type { Kysely } from 'kysely';
import { measureConformance, DEVIATION_KINDS, type CaseConformance, type DeviationKind } from '../cases/conformance.js';
import { compileFragment, type CompiledFragment } from '../fragments/runtime.js';
import type { FragmentRef } from '../fragments/types.js';
import type { Database } from '../persistence/schema.js';
import { loadReplaySteps, replayResolver } from './journal-steps.js';
import type { HistoryDeps } from './reconstruct-plan.js';

const REPORT_PAGE = 250;

export interface ConformanceFilter {
  /** Template key; all templates when absent. */
  template?: string;
  /** Cases opened at or after `from` and before `to`. */
  from?: Date;
  to?: Date;
}

export interface ConformanceReport {
  filter: { template: string | null; from: string | null; to: string | null };
  /** Cases in the filter; `measured` of them could be replayed from their first version. */
  cases: number;
  measured: number;
  /** Measured cases whose replay stopped early (erased or changed history); measured up to there. */
  incomplete: number;
  fitness: { mean: number | null; median: number | null; p10: number | null; min: number | null };
  /** Per deviation kind: how many cases had one, and how many there were. */
  deviations: Record<DeviationKind, { cases: number; count: number }>;
  /** Fragments inserted outside the planning table, by definition key, most frequent first (top 20). */
  insertions: { definition: string; cases: number }[];
  /** Per template version. */
  versions: { template: string; version: number; cases: number; mean_fitness: number }[];
  /** The least conforming cases (up to 10), lowest fitness first. */
  lowest: { case_id: string; fitness: number; deviations: number }[];
  elapsed_ms: number;
}

/** A compiler that compiles each definition once per report. */
function compilerFor(resolve: (ref: FragmentRef) => ReturnType<HistoryDeps['catalog']['fragment']>) {
  const compiled = new Map<FragmentRef, CompiledFragment | undefined>();
  return (ref: FragmentRef) => {
    if (!compiled.has(ref)) {
      const d = resolve(ref);
      compiled.set(ref, d ? compileFragment(d) : undefined);
    }
    return compiled.get(ref);
  };
}

/** One case measured; undefined when there is no such case or no recorded history for it. */
export async function caseConformance(db: Kysely<Database>, deps: HistoryDeps, caseId: string): Promise<CaseConformance | undefined> {
  const steps = (await loadReplaySteps(db, [caseId])).get(caseId) ?? [];
  if (steps[0]?.version !== 1) return undefined;
  const resolver = await replayResolver(db, deps.catalog, steps);
  return measureConformance(deps.engine, steps, resolver, compilerFor(resolver.fragment));
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))));
  return sorted[i]!;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

export async function conformanceReport(db: Kysely<Database>, deps: HistoryDeps, filter: ConformanceFilter): Promise<ConformanceReport> {
  const started = performance.now();
  const measured: CaseConformance[] = [];
  let cases = 0;
  let after = '';
  // Compiled definitions are shared across pages (the templates' fragments recur in every case).
  const compiled = new Map<FragmentRef, CompiledFragment | undefined>();
  for (;;) {
    let q = db.selectFrom('cases').select('id').where('id', '>', after).orderBy('id').limit(REPORT_PAGE);
    if (filter.template !== undefined) q = q.where('template_key', '=', filter.template);
    if (filter.from) q = q.where('opened_at', '>=', filter.from);
    if (filter.to) q = q.where('opened_at', '<', filter.to);
    const ids = (await q.execute()).map((r) => r.id);
    if (ids.length === 0) break;
    cases += ids.length;
    after = ids[ids.length - 1]!;
    const steps = await loadReplaySteps(db, ids);
    const resolver = await replayResolver(db, deps.catalog, [...steps.values()].flat());
    const compile = (ref: FragmentRef) => {
      if (!compiled.has(ref)) {
        const d = resolver.fragment(ref);
        compiled.set(ref, d ? compileFragment(d) : undefined);
      }
      return compiled.get(ref);
    };
    for (const id of ids) {
      const s = steps.get(id) ?? [];
      if (s[0]?.version !== 1) continue;
      const m = measureConformance(deps.engine, s, resolver, compile);
      if (m) measured.push(m);
    }
    if (ids.length < REPORT_PAGE) break;
  }
  const fitness = measured.map((m) => m.fitness).sort((a, b) => a - b);
  const deviations = Object.fromEntries(DEVIATION_KINDS.map((k) => [k, { cases: 0, count: 0 }])) as ConformanceReport['deviations'];
  const insertions = new Map<string, Set<string>>();
  const versions = new Map<string, { template: string; version: number; cases: number; sum: number }>();
  for (const m of measured) {
    const kinds = new Set<DeviationKind>();
    for (const d of m.deviations) {
      deviations[d.kind].count++;
      kinds.add(d.kind);
      if (d.kind === 'insertion' && d.definition) {
        // Inline and checklist definitions are named per fragment: group them by their kind.
        const key = d.definition.startsWith('inline-') ? 'inline' : d.definition.startsWith('checklist-') ? 'checklist' : d.definition.slice(0, d.definition.lastIndexOf('@'));
        (insertions.get(key) ?? insertions.set(key, new Set()).get(key)!).add(m.case_id);
      }
    }
    for (const k of kinds) deviations[k].cases++;
    const vk = `${m.template.key}@${m.template.version}`;
    const v = versions.get(vk) ?? versions.set(vk, { template: m.template.key, version: m.template.version, cases: 0, sum: 0 }).get(vk)!;
    v.cases++;
    v.sum += m.fitness;
  }
  return {
    filter: { template: filter.template ?? null, from: filter.from?.toISOString() ?? null, to: filter.to?.toISOString() ?? null },
    cases,
    measured: measured.length,
    incomplete: measured.filter((m) => !m.complete).length,
    fitness: {
      mean: fitness.length > 0 ? round(fitness.reduce((a, b) => a + b, 0) / fitness.length) : null,
      median: quantile(fitness, 0.5),
      p10: quantile(fitness, 0.1),
      min: fitness[0] ?? null,
    },
    deviations,
    insertions: [...insertions].map(([definition, ids]) => ({ definition, cases: ids.size })).sort((a, b) => b.cases - a.cases || a.definition.localeCompare(b.definition)).slice(0, 20),
    versions: [...versions.values()].map((v) => ({ template: v.template, version: v.version, cases: v.cases, mean_fitness: round(v.sum / v.cases) })).sort((a, b) => a.template.localeCompare(b.template) || a.version - b.version),
    lowest: [...measured].sort((a, b) => a.fitness - b.fitness || a.case_id.localeCompare(b.case_id)).slice(0, 10).map((m) => ({ case_id: m.case_id, fitness: m.fitness, deviations: m.deviations.length })),
    elapsed_ms: Math.round(performance.now() - started),
  };
}


