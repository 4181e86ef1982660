/**
 * Situation statistics in memory: the resolved cases of one template, grouped by their exact
 * situation (the same item set), each group counting its cases, those whose goals were met on
 * time, and per fragment key the cases that added it. `sums` gives exactly what the SQL
 * `similaritySums` (persistence/learning-store.ts) gives over the same rows — the similarity of a
 * case depends only on its items, so it is computed once per group, not once per case — in a
 * few milliseconds at tens of thousands of cases, where the SQL sum took hundreds.
 *
 * Pure and incremental: `add` a learning row once (a row seen again is ignored, so re-reading an
 * overlap is harmless). The recommender (commands/recommend-fragments.ts) keeps one per template
 * and keeps it fresh.
 */
import type { FragmentSums, SimilarTotals } from './rank-recommendations.js';

export interface LearningCaseFacts {
  caseId: string;
  items: readonly string[];
  onTime: boolean;
  /** Fragment keys the case added (each once). */
  fragmentKeys: readonly string[];
}

interface Group {
  /** Item ids (see `itemIds`), distinct. */
  items: number[];
  cases: number;
  onTime: number;
  fragments: Map<string, { cases: number; onTime: number }>;
}

export interface SituationStats {
  /** Adds a case; false when it was already counted. */
  add(c: LearningCaseFacts): boolean;
  /** Cases counted. */
  size(): number;
  /** Distinct situations. */
  situations(): number;
  sums(input: { items: readonly string[]; minSimilarity: number; power: number; excludeCaseId?: string }): { totals: SimilarTotals; sums: FragmentSums[] };
}

export function createSituationStats(): SituationStats {
  const itemIds = new Map<string, number>();
  const groups = new Map<string, Group>();
  /** Per case: its group and what it added, so one case can be left out of a sum. */
  const cases = new Map<string, { group: Group; onTime: boolean; fragmentKeys: readonly string[] }>();

  const idOf = (item: string) => {
    let id = itemIds.get(item);
    if (id === undefined) itemIds.set(item, (id = itemIds.size));
    return id;
  };

  return {
    add(c) {
      if (cases.has(c.caseId)) return false;
      const items = [...new Set(c.items.map(idOf))].sort((a, b) => a - b);
      const signature = items.join(',');
      let group = groups.get(signature);
      if (!group) groups.set(signature, (group = { items, cases: 0, onTime: 0, fragments: new Map() }));
      const fragmentKeys = [...new Set(c.fragmentKeys)];
      group.cases++;
      if (c.onTime) group.onTime++;
      for (const key of fragmentKeys) {
        const f = group.fragments.get(key) ?? group.fragments.set(key, { cases: 0, onTime: 0 }).get(key)!;
        f.cases++;
        if (c.onTime) f.onTime++;
      }
      cases.set(c.caseId, { group, onTime: c.onTime, fragmentKeys });
      return true;
    },
    size: () => cases.size,
    situations: () => groups.size,
    sums({ items, minSimilarity, power, excludeCaseId }) {
      const wanted = new Set(items.flatMap((i) => (itemIds.has(i) ? [itemIds.get(i)!] : [])));
      const n = new Set(items).size;
      const totals: SimilarTotals = { weight: 0, cases: 0, onTimeWeight: 0 };
      const byKey = new Map<string, FragmentSums>();
      if (n === 0 || wanted.size === 0) return { totals, sums: [] };
      const threshold = Math.pow(minSimilarity, power);
      const excluded = excludeCaseId !== undefined ? cases.get(excludeCaseId) : undefined;
      for (const group of groups.values()) {
        let shared = 0;
        for (const id of group.items) if (wanted.has(id)) shared++;
        if (shared === 0) continue;
        const w = Math.pow(shared / n, power);
        if (w < threshold) continue;
        // The case asked about, if it is in the history, does not count as its own neighbour.
        const less = excluded?.group === group ? excluded : undefined;
        const count = group.cases - (less ? 1 : 0);
        const onTime = group.onTime - (less?.onTime ? 1 : 0);
        if (count === 0) continue;
        totals.weight += w * count;
        totals.cases += count;
        totals.onTimeWeight += w * onTime;
        for (const [key, f] of group.fragments) {
          const drop = less?.fragmentKeys.includes(key) ? 1 : 0;
          const fCases = f.cases - drop;
          if (fCases === 0) continue;
          const fOnTime = f.onTime - (drop && less!.onTime ? 1 : 0);
          const s = byKey.get(key) ?? byKey.set(key, { fragmentKey: key, addedWeight: 0, addedOnTimeWeight: 0, addedCases: 0, addedOnTimeCases: 0 }).get(key)!;
          s.addedWeight += w * fCases;
          s.addedOnTimeWeight += w * fOnTime;
          s.addedCases += fCases;
          s.addedOnTimeCases += fOnTime;
        }
      }
      return { totals, sums: [...byKey.values()] };
    },
  };
}
