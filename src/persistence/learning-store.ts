/**
 * The recommender's rows (migration 0050): resolved cases as situations and the fragments they
 * added, the similarity sums over them, and feedback on recommendations.
 */
import { sql, type Kysely } from 'kysely';
import type { CaseState } from '../cases/types.js';
import type { FragmentSums, SimilarTotals } from '../learning/rank-recommendations.js';
import type { Database } from './schema.js';

export interface UnindexedCase {
  state: CaseState;
  segment: string | null;
}

/** Resolved or closed cases not yet in `learning_cases`, oldest id first. */
export async function unindexedResolvedCases(db: Kysely<Database>, limit: number): Promise<UnindexedCase[]> {
  const rows = await sql<{ state: CaseState; segment: string | null }>`
    select c.state, cu.segment
    from cases c left join customers cu on cu.id = c.customer_id
    where c.status in ('resolved', 'closed')
      and not exists (select 1 from learning_cases lc where lc.case_id = c.id)
    order by c.id
    limit ${limit}`.execute(db);
  return rows.rows;
}

/** `fragment.added` entries of these cases, in journal order. */
export async function fragmentAdditions(db: Kysely<Database>, caseIds: readonly string[]): Promise<{ case_id: string; data: Record<string, unknown>; at: Date }[]> {
  if (caseIds.length === 0) return [];
  return db
    .selectFrom('journal')
    .select(['case_id', 'data', 'at'])
    .where('case_id', 'in', [...caseIds])
    .where('type', '=', 'fragment.added')
    .orderBy('case_id')
    .orderBy('version')
    .orderBy('idx')
    .execute() as Promise<{ case_id: string; data: Record<string, unknown>; at: Date }[]>;
}

export interface LearningCaseRow {
  caseId: string;
  templateKey: string;
  templateVersion: number;
  items: string[];
  onTime: boolean;
  resolvedAt: string;
  additions: { ref: string; key: string; at: string }[];
}

/** Writes indexed cases (one statement per table); a case indexed meanwhile is skipped. */
export async function insertLearningCases(db: Kysely<Database>, rows: readonly LearningCaseRow[]): Promise<void> {
  if (rows.length === 0) return;
  const cases = rows.map((r) => ({ case_id: r.caseId, template_key: r.templateKey, template_version: r.templateVersion, items: r.items, on_time: r.onTime, resolved_at: r.resolvedAt }));
  const additions = rows.flatMap((r) => r.additions.map((a, i) => ({ case_id: r.caseId, position: i, fragment_ref: a.ref, fragment_key: a.key, added_at: a.at })));
  await sql`
    with c as (
      insert into learning_cases (case_id, template_key, template_version, items, on_time, resolved_at)
      select x.case_id, x.template_key, x.template_version, array(select jsonb_array_elements_text(x.items)), x.on_time, x.resolved_at
      from jsonb_to_recordset(${JSON.stringify(cases)}::jsonb) as x(case_id text, template_key text, template_version int, items jsonb, on_time boolean, resolved_at timestamptz)
      on conflict (case_id) do nothing
      returning case_id
    )
    insert into learning_additions (case_id, position, fragment_ref, fragment_key, added_at)
    select a.case_id, a.position, a.fragment_ref, a.fragment_key, a.added_at
    from jsonb_to_recordset(${JSON.stringify(additions)}::jsonb) as a(case_id text, position int, fragment_ref text, fragment_key text, added_at timestamptz)
    where a.case_id in (select case_id from c)`.execute(db);
}

/**
 * The similarity sums for one open case (see learning/rank-recommendations.ts for the formula):
 * over the resolved cases of `templateKey` sharing at least `minSimilarity` of `items`, weighted by
 * similarity to the `power`; per fragment key the cases added, once per case.
 */
export async function similaritySums(
  db: Kysely<Database>,
  input: { templateKey: string; items: readonly string[]; minSimilarity: number; power: number; excludeCaseId?: string },
): Promise<{ totals: SimilarTotals; sums: FragmentSums[] }> {
  const n = input.items.length;
  if (n === 0) return { totals: { weight: 0, cases: 0, onTimeWeight: 0 }, sums: [] };
  const items = sql`${[...input.items]}::text[]`;
  const rows = await sql<{ fragment_key: string | null; added_w: number; added_on_time_w: number; added_n: number; added_on_time_n: number; total_w: number; total_n: number; total_on_time_w: number }>`
    with neighbours as (
      select lc.case_id, lc.on_time, power((select count(*) from unnest(lc.items) i where i = any(${items}))::float8 / ${n}, ${input.power}) as w
      from learning_cases lc
      where lc.template_key = ${input.templateKey} and lc.items && ${items} and lc.case_id <> ${input.excludeCaseId ?? ''}
    ),
    weighted as (select * from neighbours where w >= ${Math.pow(input.minSimilarity, input.power)}),
    totals as (select coalesce(sum(w), 0) as total_w, count(*) as total_n, coalesce(sum(w) filter (where on_time), 0) as total_on_time_w from weighted),
    per_fragment as (
      select a.fragment_key, sum(s.w) as added_w, coalesce(sum(s.w) filter (where s.on_time), 0) as added_on_time_w,
             count(*) as added_n, count(*) filter (where s.on_time) as added_on_time_n
      from weighted s join (select distinct case_id, fragment_key from learning_additions) a on a.case_id = s.case_id
      group by a.fragment_key
    )
    select p.fragment_key, p.added_w, p.added_on_time_w, p.added_n, p.added_on_time_n, t.total_w, t.total_n, t.total_on_time_w
    from totals t left join per_fragment p on true`.execute(db);
  const first = rows.rows[0];
  const totals: SimilarTotals = { weight: Number(first?.total_w ?? 0), cases: Number(first?.total_n ?? 0), onTimeWeight: Number(first?.total_on_time_w ?? 0) };
  const sums = rows.rows
    .filter((r) => r.fragment_key !== null)
    .map((r) => ({ fragmentKey: r.fragment_key!, addedWeight: Number(r.added_w), addedOnTimeWeight: Number(r.added_on_time_w), addedCases: Number(r.added_n), addedOnTimeCases: Number(r.added_on_time_n) }));
  return { totals, sums };
}

/**
 * The learning rows of a template indexed at or after `since` (all when null), each with the
 * fragment keys it added: what the in-memory situation statistics are built and caught up from
 * (learning/situation-stats.ts; index learning_cases_template_indexed, migration 0051).
 */
export async function learningCasesSince(
  db: Kysely<Database>,
  templateKey: string,
  since: Date | null,
): Promise<{ caseId: string; items: string[]; onTime: boolean; fragmentKeys: string[]; indexedAt: Date }[]> {
  const rows = await sql<{ case_id: string; items: string[]; on_time: boolean; fragment_keys: string[]; indexed_at: Date | string }>`
    select lc.case_id, lc.items, lc.on_time, lc.indexed_at,
      coalesce((select array_agg(distinct a.fragment_key) from learning_additions a where a.case_id = lc.case_id), '{}') as fragment_keys
    from learning_cases lc
    where lc.template_key = ${templateKey} and (${since}::timestamptz is null or lc.indexed_at >= ${since}::timestamptz)`.execute(db);
  return rows.rows.map((r) => ({ caseId: r.case_id, items: r.items, onTime: r.on_time, fragmentKeys: r.fragment_keys, indexedAt: new Date(r.indexed_at) }));
}

export interface FeedbackRow {
  id: string;
  caseId: string;
  fragmentRef: string;
  decision: 'accepted' | 'dismissed';
  caseVersion: number;
  rank: number;
  actorId: string;
  reason: string | null;
  at: string;
}

export async function insertFeedback(db: Kysely<Database>, row: Omit<FeedbackRow, 'at'>): Promise<FeedbackRow> {
  const inserted = await db
    .insertInto('recommendation_feedback')
    .values({ id: row.id, case_id: row.caseId, fragment_ref: row.fragmentRef, decision: row.decision, case_version: row.caseVersion, rank: row.rank, actor_id: row.actorId, reason: row.reason })
    .returning('at')
    .executeTakeFirstOrThrow();
  return { ...row, at: new Date(inserted.at).toISOString() };
}

/** The latest feedback per fragment ref on a case. */
export async function latestFeedback(db: Kysely<Database>, caseId: string): Promise<Map<string, FeedbackRow>> {
  const rows = await db.selectFrom('recommendation_feedback').selectAll().where('case_id', '=', caseId).orderBy('at').execute();
  return new Map(
    rows.map((r) => [
      r.fragment_ref,
      { id: r.id, caseId: r.case_id, fragmentRef: r.fragment_ref, decision: r.decision, caseVersion: r.case_version, rank: r.rank, actorId: r.actor_id, reason: r.reason, at: new Date(r.at).toISOString() },
    ]),
  );
}

/**
 * Feedback with whether it was taken: the case added a fragment of the same key after the
 * version the feedback was given at (a later add counts as taken, whatever the click said).
 */
export async function feedbackOutcomes(
  db: Kysely<Database>,
  filter: { caseId?: string; templateKey?: string; from?: string; to?: string },
): Promise<{ accepted: number; dismissed: number; taken: number; acceptedTaken: number; dismissedTaken: number; total: number }> {
  let q = db
    .selectFrom('recommendation_feedback as f')
    .innerJoin('cases as c', 'c.id', 'f.case_id')
    .select((eb) => [
      eb.fn.countAll<string>().as('total'),
      sql<string>`count(*) filter (where f.decision = 'accepted')`.as('accepted'),
      sql<string>`count(*) filter (where f.decision = 'dismissed')`.as('dismissed'),
      sql<string>`count(*) filter (where t.taken)`.as('taken'),
      sql<string>`count(*) filter (where t.taken and f.decision = 'accepted')`.as('accepted_taken'),
      sql<string>`count(*) filter (where t.taken and f.decision = 'dismissed')`.as('dismissed_taken'),
    ])
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('journal as j')
          .select(sql<boolean>`count(*) > 0`.as('taken'))
          .whereRef('j.case_id', '=', 'f.case_id')
          .where('j.type', '=', 'fragment.added')
          .whereRef('j.version', '>', 'f.case_version')
          .where(sql<boolean>`split_part(j.data->>'definition', '@', 1) = split_part(f.fragment_ref, '@', 1)`)
          .as('t'),
      (join) => join.onTrue(),
    );
  if (filter.caseId !== undefined) q = q.where('f.case_id', '=', filter.caseId);
  if (filter.templateKey !== undefined) q = q.where('c.template_key', '=', filter.templateKey);
  if (filter.from !== undefined) q = q.where('f.at', '>=', new Date(filter.from));
  if (filter.to !== undefined) q = q.where('f.at', '<', new Date(filter.to));
  const r = await q.executeTakeFirstOrThrow();
  return { total: Number(r.total), accepted: Number(r.accepted), dismissed: Number(r.dismissed), taken: Number(r.taken), acceptedTaken: Number(r.accepted_taken), dismissedTaken: Number(r.dismissed_taken) };
}
