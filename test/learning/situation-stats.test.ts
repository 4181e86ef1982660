/**
 * The in-memory situation statistics give the same sums as the SQL over the learning rows
 * (persistence/learning-store.ts similaritySums), for many situations, with and without a case
 * left out; and the recommender's copy catches up with rows indexed after it was built, by any
 * writer, without counting a row twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/commands/catalog.js';
import { createRecommender } from '../../src/commands/recommend-fragments.js';
import type { CaseState } from '../../src/cases/types.js';
import { MIN_SIMILARITY, SIMILARITY_POWER } from '../../src/learning/rank-recommendations.js';
import { createSituationStats } from '../../src/learning/situation-stats.js';
import { insertLearningCases, learningCasesSince, similaritySums, type LearningCaseRow } from '../../src/persistence/learning-store.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { createPrivateDatabase } from '../jobs/timer-stack.js';

let privateDb: Awaited<ReturnType<typeof createPrivateDatabase>>;
let database: DatabaseHandle;

beforeAll(async () => {
  privateDb = await createPrivateDatabase();
  database = await openDatabase({ databaseUrl: privateDb.url, dataDir: '/nonexistent', poolSize: 4 });
});
afterAll(async () => {
  await database?.close();
  await privateDb?.drop();
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(7);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
const FRAGMENTS = ['a', 'b', 'c', 'd', 'e'];

function situation(): string[] {
  const items = [`channel=${pick(['x', 'email', 'phone'])}`, `segment=${pick(['smb', 'consumer'])}`, `value=${pick(['low', 'mid', 'high'])}`, 'ran:base'];
  if (random() < 0.5) items.push(`sentiment=${pick(['negative', 'neutral'])}`);
  return items;
}

function learningRow(id: string, templateKey = 'tpl'): LearningCaseRow {
  const added = [...new Set(Array.from({ length: Math.floor(random() * 3) }, () => pick(FRAGMENTS)))];
  return {
    caseId: id,
    templateKey,
    templateVersion: 1,
    items: [...situation(), ...added.map((k) => `ran:${k}`)],
    onTime: random() < 0.5,
    resolvedAt: '2026-01-01T00:00:00.000Z',
    additions: added.map((k) => ({ ref: `${k}@1`, key: k, at: '2026-01-01T00:00:00.000Z' })),
  };
}

const sorted = <T extends { fragmentKey: string }>(xs: T[]) => [...xs].sort((a, b) => a.fragmentKey.localeCompare(b.fragmentKey));
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(a));

describe('situation statistics', () => {
  it('sum the same as the SQL over the learning rows, with and without a case left out', async () => {
    const db = database.db;
    const rows = Array.from({ length: 600 }, (_, i) => learningRow(`c${i}`));
    await insertLearningCases(db, rows);
    await insertLearningCases(db, [learningRow('other-1', 'other-template')]);
    const stats = createSituationStats();
    for (const r of await learningCasesSince(db, 'tpl', null)) stats.add(r);
    expect(stats.size()).toBe(600);
    expect(stats.situations()).toBeLessThan(600);

    const queries: { items: string[]; excludeCaseId?: string }[] = [...Array.from({ length: 20 }, () => ({ items: situation() })), { items: rows[3]!.items, excludeCaseId: 'c3' }, { items: ['channel=unknown'] }];
    for (const q of queries) {
      const input = { items: q.items, minSimilarity: MIN_SIMILARITY, power: SIMILARITY_POWER, ...(q.excludeCaseId ? { excludeCaseId: q.excludeCaseId } : {}) };
      const want = await similaritySums(db, { templateKey: 'tpl', ...input });
      const got = stats.sums(input);
      expect(got.totals.cases, JSON.stringify(q)).toBe(want.totals.cases);
      expect(close(got.totals.weight, want.totals.weight)).toBe(true);
      expect(close(got.totals.onTimeWeight, want.totals.onTimeWeight)).toBe(true);
      const g = sorted(got.sums);
      const w = sorted(want.sums);
      expect(g.map((s) => [s.fragmentKey, s.addedCases, s.addedOnTimeCases])).toEqual(w.map((s) => [s.fragmentKey, s.addedCases, s.addedOnTimeCases]));
      g.forEach((s, i) => {
        expect(close(s.addedWeight, w[i]!.addedWeight)).toBe(true);
        expect(close(s.addedOnTimeWeight, w[i]!.addedOnTimeWeight)).toBe(true);
      });
    }
    // A row added twice counts once.
    expect(stats.add({ caseId: 'c1', items: rows[1]!.items, onTime: rows[1]!.onTime, fragmentKeys: [] })).toBe(false);
    expect(stats.size()).toBe(600);
  });

  it("the recommender's statistics catch up with rows indexed after they were built", async () => {
    const db = database.db;
    const catalog = {
      template: () => ({ key: 'fresh', version: 1, caseFileSchema: { type: 'object' }, discretionaryFragments: [], defaultFragments: [] }),
      fragments: () => FRAGMENTS.map((k) => ({ key: k, version: 1 })),
    } as unknown as Catalog;
    const recommender = createRecommender({ catalog });
    const open = { id: 'open-1', template: { key: 'fresh', version: 1 }, customer: { channel: 'x' }, caseFile: {}, fragments: [], posts: [] } as unknown as CaseState;
    const base = (id: string, fragment: string): LearningCaseRow => ({
      caseId: id,
      templateKey: 'fresh',
      templateVersion: 1,
      items: ['channel=x', `ran:${fragment}`],
      onTime: true,
      resolvedAt: '2026-01-01T00:00:00.000Z',
      additions: [{ ref: `${fragment}@1`, key: fragment, at: '2026-01-01T00:00:00.000Z' }],
    });
    await insertLearningCases(db, [base('f1', 'a')]);
    const first = await recommender.recommend(db, open, { limit: 3, indexFirst: false });
    expect(first.similarCases).toBe(1);
    expect(first.recommendations[0]).toMatchObject({ fragmentKey: 'a', support: { added: 1 } });

    // Indexed afterwards (as another process would): the next request counts them, once.
    await insertLearningCases(db, [base('f2', 'b'), base('f3', 'b')]);
    const second = await recommender.recommend(db, open, { limit: 3, indexFirst: false });
    expect(second.similarCases).toBe(3);
    expect(second.recommendations[0]).toMatchObject({ fragmentKey: 'b', support: { added: 2 } });
    const third = await recommender.recommend(db, open, { limit: 3, indexFirst: false });
    expect(third.similarCases).toBe(3);
  });
});
