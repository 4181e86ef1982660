/**
 * Ranking next fragments from what similar resolved cases did. Pure: the SQL side
 * (persistence/learning-store.ts) sums the weights, this turns the sums into a ranked,
 * explained list.
 *
 * For the open case q with situation items I_q (see situation.ts) and each resolved case c of the
 * same template with items I_c:
 *   sim(q, c) = |I_q ∩ I_c| / |I_q|            share of q's situation that c had too
 *   w(c)      = sim(q, c)^4  if sim >= MIN_SIMILARITY, else 0   (the power makes near-identical
 *               situations count most: every item weighs the same, so without it cases that share
 *               only the incidental items would drown the few that share the situation)
 *   N  = Σ w(c)                                 weighted similar cases
 *   A_f = Σ w(c) over c that added f           M_f = the same, over those whose goals were met on time
 *   M  = Σ w(c) over c whose goals were met on time
 * and, smoothed with a Beta(α, β) prior (α = β = 1):
 *   added      = (A_f + α) / (N + α + β)                     how often similar cases added f
 *   on time    = (M_f + α) / (A_f + α + β)                   how often their goals were then met on time
 *   without    = (M − M_f + α) / (N − A_f + α + β)           the same for similar cases without f
 *   score      = (M_f + α) / (N + α + β)                     similar cases that added f and met their goals on time
 * Ranked by score, then on time, then key. Support is the unweighted count of similar cases that
 * added f. Fragments already in the plan are not recommended.
 */
export const MIN_SIMILARITY = 0.5;
export const SIMILARITY_POWER = 4;
export const PRIOR = { alpha: 1, beta: 1 } as const;

export interface SimilarTotals {
  /** Σ w over similar cases, and their count. */
  weight: number;
  cases: number;
  /** Σ w over similar cases whose goals were met on time. */
  onTimeWeight: number;
}

export interface FragmentSums {
  fragmentKey: string;
  addedWeight: number;
  addedOnTimeWeight: number;
  addedCases: number;
  addedOnTimeCases: number;
}

export interface Recommendation {
  fragmentKey: string;
  /** The ref an agent adds: the one the case's template offers, else the latest in the library. */
  ref: string;
  /** The case's template offers it (a library add will be accepted). */
  offered: boolean;
  score: number;
  addedRate: number;
  onTimeRate: number;
  onTimeRateWithout: number;
  support: { similarCases: number; added: number; addedOnTime: number };
  reason: string;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function rankRecommendations(input: {
  totals: SimilarTotals;
  sums: readonly FragmentSums[];
  /** Keys of fragments already in the plan. */
  inPlan: ReadonlySet<string>;
  /** Key -> ref the template offers (discretionary or default). */
  offered: ReadonlyMap<string, string>;
  /** Key -> latest library ref, for keys the template does not offer. */
  libraryRef: (key: string) => string | undefined;
  /** The open case's situation features (for the reason). */
  features: readonly string[];
  limit: number;
}): Recommendation[] {
  const { alpha, beta } = PRIOR;
  const { totals } = input;
  const bySum = new Map(input.sums.map((s) => [s.fragmentKey, s]));
  const keys = new Set([...bySum.keys(), ...input.offered.keys()]);
  const situation = input.features.length > 0 ? input.features.join(', ') : 'the same plan so far';
  const out: Recommendation[] = [];
  for (const key of keys) {
    if (input.inPlan.has(key)) continue;
    const ref = input.offered.get(key) ?? input.libraryRef(key);
    if (!ref) continue;
    const s = bySum.get(key) ?? { fragmentKey: key, addedWeight: 0, addedOnTimeWeight: 0, addedCases: 0, addedOnTimeCases: 0 };
    const addedRate = (s.addedWeight + alpha) / (totals.weight + alpha + beta);
    const onTimeRate = (s.addedOnTimeWeight + alpha) / (s.addedWeight + alpha + beta);
    const onTimeRateWithout = (totals.onTimeWeight - s.addedOnTimeWeight + alpha) / (totals.weight - s.addedWeight + alpha + beta);
    const score = (s.addedOnTimeWeight + alpha) / (totals.weight + alpha + beta);
    const reason =
      totals.cases === 0
        ? `No resolved case of this template is similar yet (${situation}); offered by the template.`
        : s.addedCases === 0
          ? `None of ${totals.cases} similar resolved cases (${situation}) added it.`
          : `${s.addedCases} of ${totals.cases} similar resolved cases (${situation}) added it (${pct(addedRate)} weighted by similarity); ` +
            `their goals were met on time in ${pct(onTimeRate)} of them, vs ${pct(onTimeRateWithout)} without it.`;
    out.push({
      fragmentKey: key,
      ref,
      offered: input.offered.has(key),
      score,
      addedRate,
      onTimeRate,
      onTimeRateWithout,
      support: { similarCases: totals.cases, added: s.addedCases, addedOnTime: s.addedOnTimeCases },
      reason,
    });
  }
  out.sort((a, b) => b.score - a.score || b.onTimeRate - a.onTimeRate || a.fragmentKey.localeCompare(b.fragmentKey));
  return out.slice(0, input.limit);
}
