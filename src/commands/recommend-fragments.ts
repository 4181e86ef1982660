/**
 * Recommending next fragments for an open case, from the resolved cases of its template.
 *
 * `index` turns resolved cases into learning rows (their situation, whether their goals were
 * met on time, the library fragments they added at runtime) — incrementally, a bounded batch at a
 * time, so a read never waits for a whole history. `recommend` indexes what resolved since the
 * last pass (up to a bound; a pass at most every INDEX_PASS_EVERY_MS), sums the similar cases and ranks (learning/rank-recommendations.ts
 * explains the formula).
 *
 * The sums come from situation statistics held in memory per template (learning/situation-stats.ts),
 * not from a scan of the learning rows per request. How they stay fresh: built from the
 * template's learning rows on first use; every request then reads the rows indexed (by any
 * process) after the newest it holds — one indexed read of the new rows only (migration 0051) —
 * and once per STATS_OVERLAP_MS also the STATS_OVERLAP_MS before it, so a row committed a moment
 * after a later-stamped one is counted within seconds (rows already counted are skipped by case
 * id). The statistics are rebuilt from scratch every STATS_REBUILD_MS (the learning rows may be
 * dropped and rebuilt at any time). Memory: one entry per resolved case and one per distinct situation.
 */
import type { Kysely } from 'kysely';
import type { CaseState } from '../cases/types.js';
import { goalsMetOnTime, ranItems, situationFeatures, situationItems } from '../learning/situation.js';
import { MIN_SIMILARITY, SIMILARITY_POWER, rankRecommendations, type Recommendation } from '../learning/rank-recommendations.js';
import { createSituationStats, type SituationStats } from '../learning/situation-stats.js';
import { fragmentAdditions, insertLearningCases, learningCasesSince, unindexedResolvedCases, type LearningCaseRow } from '../persistence/learning-store.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';

const keyOf = (ref: string) => ref.slice(0, ref.lastIndexOf('@'));
/** Authored at runtime: unique to their case, nothing to recommend to another. */
const AUTHORED = /^(inline|checklist)-/;

/** Rows indexed this long before the newest held are read again, this often (commit order is not indexed_at order). */
const STATS_OVERLAP_MS = 10_000;
/** The in-memory statistics are rebuilt from the learning rows this often. */
const STATS_REBUILD_MS = 10 * 60_000;
/**
 * A request runs an indexing pass at most this often per process (finding the resolved cases not
 * indexed yet reads every resolved case: hundreds of ms at 20,000 of them); requests meanwhile
 * share the pass in flight or skip it. A resolved case is recommended from within this time.
 */
const INDEX_PASS_EVERY_MS = 2_000;

export interface RecommendResult {
  items: string[];
  similarCases: number;
  recommendations: Recommendation[];
}

export function createRecommender(deps: { catalog: Catalog; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const held = new Map<string, { stats: SituationStats; newest: Date | null; builtAt: number; overlapAt: number }>();
  let lastPass = Number.NEGATIVE_INFINITY;
  let passInFlight: Promise<unknown> | undefined;

  /** The indexing pass a request runs: the one in flight, else one if none ran for INDEX_PASS_EVERY_MS. */
  function indexingPass(db: Kysely<Database>): Promise<unknown> | undefined {
    if (passInFlight) return passInFlight;
    if (now() - lastPass < INDEX_PASS_EVERY_MS) return undefined;
    lastPass = now();
    passInFlight = index(db).finally(() => {
      passInFlight = undefined;
    });
    return passInFlight;
  }

  /** The template's situation statistics, caught up with the learning rows indexed since the last read. */
  async function statsFor(db: Kysely<Database>, templateKey: string): Promise<SituationStats> {
    let entry = held.get(templateKey);
    if (!entry || now() - entry.builtAt > STATS_REBUILD_MS) {
      entry = { stats: createSituationStats(), newest: null, builtAt: now(), overlapAt: now() };
      held.set(templateKey, entry);
    }
    // Rows newer than the newest held; once per STATS_OVERLAP_MS also the overlap before it.
    let since: Date | null = null;
    if (entry.newest) {
      const overlap = now() - entry.overlapAt >= STATS_OVERLAP_MS;
      if (overlap) entry.overlapAt = now();
      since = new Date(entry.newest.getTime() + (overlap ? -STATS_OVERLAP_MS : 1));
    }
    for (const row of await learningCasesSince(db, templateKey, since)) {
      entry.stats.add(row);
      if (!entry.newest || row.indexedAt > entry.newest) entry.newest = row.indexedAt;
    }
    return entry.stats;
  }

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
    if (options.indexFirst ?? true) await indexingPass(db);
    const template = deps.catalog.template(state.template.key, state.template.version);
    const extras = { segment: options.segment ?? null };
    const items = situationItems(state, template, extras);
    const stats = await statsFor(db, state.template.key);
    const { totals, sums } = stats.sums({ items, minSimilarity: MIN_SIMILARITY, power: SIMILARITY_POWER, excludeCaseId: state.id });
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
