/**
 * Recommending next fragments for an open case, from the resolved cases of its template.
 *
 * `index` turns resolved cases into learning rows (their situation, whether their goals were
 * met on time, the library fragments they added at runtime) — incrementally, a bounded batch at a
 * time, so a read never waits for a whole history. `recommend` indexes what resolved since the
 * last call (up to a bound), sums the similar cases in one statement and ranks
 * (learning/rank-recommendations.ts explains the formula).
 */
import type { Kysely } from 'kysely';
import type { CaseState } from '../cases/types.js';
import { goalsMetOnTime, ranItems, situationFeatures, situationItems } from '../learning/situation.js';
import { MIN_SIMILARITY, SIMILARITY_POWER, rankRecommendations, type Recommendation } from '../learning/rank-recommendations.js';
import { fragmentAdditions, insertLearningCases, similaritySums, unindexedResolvedCases, type LearningCaseRow } from '../persistence/learning-store.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';

const keyOf = (ref: string) => ref.slice(0, ref.lastIndexOf('@'));
/** Authored at runtime: unique to their case, nothing to recommend to another. */
const AUTHORED = /^(inline|checklist)-/;

export interface RecommendResult {
  items: string[];
  similarCases: number;
  recommendations: Recommendation[];
}

export function createRecommender(deps: { catalog: Catalog }) {
  /** Indexes up to `maxCases` resolved cases not indexed yet, in batches; returns how many. */
  async function index(db: Kysely<Database>, options: { maxCases?: number; batch?: number } = {}): Promise<number> {
    const max = options.maxCases ?? 2_000;
    const batch = Math.min(options.batch ?? 1_000, max);
    let done = 0;
    while (done < max) {
      const cases = await unindexedResolvedCases(db, Math.min(batch, max - done));
      if (cases.length === 0) break;
      const additions = await fragmentAdditions(db, cases.map((c) => c.state.id));
      const byCase = new Map<string, LearningCaseRow['additions']>();
      for (const a of additions) {
        const ref = typeof a.data['definition'] === 'string' ? a.data['definition'] : undefined;
        if (!ref || a.data['source'] === 'default' || AUTHORED.test(ref)) continue;
        const list = byCase.get(a.case_id) ?? [];
        list.push({ ref, key: keyOf(ref), at: new Date(a.at).toISOString() });
        byCase.set(a.case_id, list);
      }
      await insertLearningCases(
        db,
        cases.map(({ state, segment }) => ({
          caseId: state.id,
          templateKey: state.template.key,
          templateVersion: state.template.version,
          items: situationItems(state, deps.catalog.template(state.template.key, state.template.version), { segment }),
          onTime: goalsMetOnTime(state.goals),
          resolvedAt: state.resolvedAt ?? state.closedAt ?? state.updatedAt,
          additions: byCase.get(state.id) ?? [],
        })),
      );
      done += cases.length;
      if (cases.length < batch) break;
    }
    return done;
  }

  async function recommend(db: Kysely<Database>, state: CaseState, options: { limit: number; segment?: string | null; indexFirst?: boolean }): Promise<RecommendResult> {
    if (options.indexFirst ?? true) await index(db);
    const template = deps.catalog.template(state.template.key, state.template.version);
    const extras = { segment: options.segment ?? null };
    const items = situationItems(state, template, extras);
    const { totals, sums } = await similaritySums(db, { templateKey: state.template.key, items, minSimilarity: MIN_SIMILARITY, power: SIMILARITY_POWER, excludeCaseId: state.id });
    const offered = new Map<string, string>();
    for (const ref of [...(template?.discretionaryFragments ?? []), ...(template?.defaultFragments ?? [])]) offered.set(keyOf(ref), ref);
    const library = new Map(deps.catalog.fragments().map((f) => [f.key, `${f.key}@${f.version}`]));
    const recommendations = rankRecommendations({
      totals,
      sums,
      inPlan: new Set(ranItems(state).map((i) => i.slice('ran:'.length))),
      offered,
      libraryRef: (key) => library.get(key),
      features: situationFeatures(state, template, extras),
      limit: options.limit,
    });
    return { items, similarCases: totals.cases, recommendations };
  }

  return { index, recommend };
}

export type Recommender = ReturnType<typeof createRecommender>;
