import { sql, type Kysely } from 'kysely';

/**
 * The goal views: one row per (case, goal), projected from the case aggregate in the command
 * transaction (persistence/goal-views.ts), so supervisor lists and SLA reports read an indexed
 * table instead of unpacking every case's jsonb.
 *
 * "Active" below means what the lists show: an open goal with a deadline on a case that is open
 * or on hold. The partial indexes hold only those rows, so they stay small however many
 * achieved goals pile up; each leads with one filter of GET /v1/goals and ends with the keyset
 * (deadline_at, case_id, goal_key), so a filtered page is an index range read in order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('goal_views')
    .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
    .addColumn('goal_key', 'text', (c) => c.notNull())
    .addColumn('goal_title', 'text', (c) => c.notNull())
    .addColumn('case_title', 'text', (c) => c.notNull())
    .addColumn('template_key', 'text', (c) => c.notNull())
    .addColumn('template_version', 'integer', (c) => c.notNull())
    .addColumn('queue', 'text')
    .addColumn('owner_id', 'text')
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('case_status', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('sla', 'text')
    .addColumn('required', 'boolean', (c) => c.notNull())
    .addColumn('ad_hoc', 'boolean', (c) => c.notNull())
    .addColumn('deadline_at', 'timestamptz')
    .addColumn('at_risk_at', 'timestamptz')
    .addColumn('breached_at', 'timestamptz')
    .addColumn('achieved_at', 'timestamptz')
    .addColumn('achieved_late', 'boolean', (c) => c.notNull())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('goal_views_pk', ['case_id', 'goal_key'])
    .execute();

  const active = sql.raw(`status = 'open' and case_status in ('open', 'on_hold') and deadline_at is not null`);
  await sql`create index goal_views_active_deadline on goal_views (deadline_at, case_id, goal_key) where ${active}`.execute(db);
  for (const column of ['sla', 'queue', 'owner_id', 'template_key']) {
    await sql`create index ${sql.raw(`goal_views_active_${column}`)} on goal_views (${sql.ref(column)}, deadline_at, case_id, goal_key)
      where ${active}`.execute(db);
  }
  // SLA attainment: a goal counts in the period of its outcome — when it was achieved, or, still
  // open, when its deadline passes. Covering, so a report over a period is an index-only range scan.
  // achieved_at is included although the key has it: an expression index alone does not let
  // Postgres answer the query from the index. The second one serves a report for one queue.
  const outcome = sql.raw(`(coalesce(achieved_at, deadline_at))`);
  const covered = sql.raw(`include (template_key, queue, status, achieved_late, achieved_at, deadline_at, case_status)
    where deadline_at is not null and status <> 'cancelled'`);
  await sql`create index goal_views_outcome on goal_views (${outcome}) ${covered}`.execute(db);
  await sql`create index goal_views_queue_outcome on goal_views (queue, ${outcome}) ${covered}`.execute(db);

  await backfillGoalViews(db);
}

/**
 * Projects the goals of every case already stored, the same rows `goalViewRows` writes
 * (exported so a test can check the two agree). Rows already there are left alone.
 */
export async function backfillGoalViews(db: Kysely<any>, caseId?: string): Promise<void> {
  await sql`
    insert into goal_views (case_id, goal_key, goal_title, case_title, template_key, template_version, queue, owner_id, priority,
      case_status, status, sla, required, ad_hoc, deadline_at, at_risk_at, breached_at, achieved_at, achieved_late, opened_at, updated_at)
    select c.id, g->>'key', g->>'title', c.state->>'title', c.state->'template'->>'key', (c.state->'template'->>'version')::int,
      c.state->>'queue', c.state->>'ownerId', c.state->>'priority', c.state->>'status', g->>'status', g->>'sla',
      coalesce((g->>'required')::boolean, false), coalesce((g->>'adHoc')::boolean, false),
      (g->>'deadlineAt')::timestamptz, (g->>'atRiskAt')::timestamptz, (g->>'deadlineReachedAt')::timestamptz,
      (g->>'achievedAt')::timestamptz, coalesce((g->>'achievedLate')::boolean, false),
      (c.state->>'openedAt')::timestamptz, (c.state->>'updatedAt')::timestamptz
    from cases c cross join lateral jsonb_array_elements(c.state->'goals') as g
    where ${caseId === undefined ? sql`true` : sql`c.id = ${caseId}`}
    on conflict (case_id, goal_key) do nothing`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('goal_views').execute();
}
