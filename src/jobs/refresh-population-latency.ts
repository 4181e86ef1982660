import type { Kysely } from 'kysely';
import type { Catalog } from '../commands/catalog.js';
import { deviationTemplates } from '../commands/rearm-deviation-timers.js';
import { populationLatencyAge, refreshPopulationLatency } from '../persistence/population-latency-store.js';
import type { Database } from '../persistence/schema.js';
import { deviationRuleOf } from '../templates/deviation-schema.js';

export interface RefreshLatencyDeps {
  db: Kysely<Database>;
  catalog: Pick<Catalog, 'templates'>;
  /** A series computed longer ago than this (or never) is recomputed. */
  maxAgeMs: number;
  now: () => Date;
}

/**
 * Recomputes the cached population latency L_n of every series a `fallback: population` rule reads
 * (n below the rule's `minEvents`: longer histories use the customer's own gap), when stale. Runs
 * in the worker's periodic pass; returns how many series were recomputed.
 */
export async function refreshDeviationLatencies(deps: RefreshLatencyDeps): Promise<number> {
  const wanted = new Map<string, { kinds: string[]; maxN: number }>();
  for (const t of deviationTemplates(deps.catalog)) {
    const rule = deviationRuleOf(t.deviation!);
    if (rule.fallback !== 'population') continue;
    const key = rule.kinds.join(',');
    const maxN = Math.max(wanted.get(key)?.maxN ?? 0, rule.minEvents - 1);
    wanted.set(key, { kinds: rule.kinds, maxN });
  }
  let refreshed = 0;
  for (const { kinds, maxN } of wanted.values()) {
    const age = await populationLatencyAge(deps.db, kinds);
    if (age && deps.now().getTime() - age.getTime() < deps.maxAgeMs) continue;
    if ((await refreshPopulationLatency(deps.db, kinds, maxN)) !== undefined) refreshed++;
  }
  return refreshed;
}
