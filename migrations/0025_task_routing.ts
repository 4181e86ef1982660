import { sql, type Kysely } from 'kysely';

/**
 * Task routing: what a task needs of the person who takes it, and where it stands, as columns
 * that "get next work" and the workload view filter and order by (the whole task stays in `body`).
 *
 * - `work_queue`: the queue the task belongs to; unlike `queue` (the current assignment) it is
 *   kept while a person holds the task, so a queue's backlog counts assigned work too.
 * - `skills` `{ skill: minLevel }`, `effort` (units), `kind` (which capacity bucket): from the
 *   fragment's `meta.task`.
 * - `priority_rank` (low 1, normal 2, high 3, urgent 4), `breach_at` (the earliest deadline of
 *   the case's open goals) and `sla` (the worst SLA state of those goals): from the case, rewritten
 *   on every open task of the case in the command statement whenever they change.
 *
 * `tasks_next_work` is the order next work hands tasks out in, per queue, over the open tasks no
 * person holds: an index range read per team, stopping at the first task the caller may take.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('tasks')
    .addColumn('work_queue', 'text')
    .addColumn('skills', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('effort', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('default'))
    .addColumn('priority_rank', 'smallint', (c) => c.notNull().defaultTo(2))
    .addColumn('breach_at', 'timestamptz')
    .addColumn('sla', 'text')
    .execute();

  // Open tasks written before this migration: their queue is their work queue, their case's
  // priority and open goals give the rest.
  await sql`
    update tasks t set work_queue = t.queue,
      priority_rank = case c.priority when 'low' then 1 when 'high' then 3 when 'urgent' then 4 else 2 end,
      breach_at = (select min((g->>'deadlineAt')::timestamptz) from jsonb_array_elements(c.state->'goals') g
                   where g->>'status' = 'open' and g ? 'deadlineAt'),
      sla = (select case max(case g->>'sla' when 'breached' then 3 when 'at_risk' then 2 when 'on_track' then 1 end)
                      when 3 then 'breached' when 2 then 'at_risk' when 1 then 'on_track' end
             from jsonb_array_elements(c.state->'goals') g where g->>'status' = 'open')
    from cases c where c.id = t.case_id and t.status = 'open'`.execute(db);

  await sql`create index tasks_next_work on tasks (work_queue, priority_rank desc, breach_at asc nulls last, opened_at, id)
    where status = 'open' and assignee_id is null`.execute(db);
  // A person's open work (capacity used, workload): a few rows per person.
  await sql`create index tasks_open_by_assignee on tasks (assignee_id, kind) include (effort, opened_at, sla)
    where status = 'open' and assignee_id is not null`.execute(db);
  await sql`create index tasks_open_by_work_queue on tasks (work_queue, opened_at) include (assignee_id, sla) where status = 'open'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['tasks_next_work', 'tasks_open_by_assignee', 'tasks_open_by_work_queue']) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema
    .alterTable('tasks')
    .dropColumn('work_queue')
    .dropColumn('skills')
    .dropColumn('effort')
    .dropColumn('kind')
    .dropColumn('priority_rank')
    .dropColumn('breach_at')
    .dropColumn('sla')
    .execute();
}
