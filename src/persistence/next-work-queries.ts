/**
 * The routing query of `POST /v1/tasks/next`: the best open task a person may take, locked.
 *
 * Order (README "Routing order"): priority (urgent, high, normal, low), then time to breach (the
 * earliest deadline of the case's open goals, soonest first, none last), then age (opened
 * first), then task id. Per team, that is the order of the partial index `tasks_next_work`, read
 * until the first row the person may take (role rank, skills at their levels, effort within the
 * free units of its capacity bucket) that no concurrent pull holds (`FOR UPDATE SKIP LOCKED`);
 * the winners of each team are then ordered the same way.
 */
import { sql, type Transaction } from 'kysely';
import type { CaseState, HandoffInput } from '../cases/types.js';
import { handoffColumns, toHandoffInput, type HandoffColumns } from './handoff-input.js';
import type { Database } from './schema.js';
import type { WorkerProfile } from './user-directory.js';

export interface Candidate {
  id: string;
  caseId: string;
  kind: string;
  effort: number;
}

const RANKS: Record<string, number> = { agent: 1, supervisor: 2, admin: 3 };

/**
 * Locks and returns the best candidate of each of the person's teams (best first). Tasks of
 * `skipCases` (cases another transaction holds) are passed over.
 */
export async function lockCandidates(trx: Transaction<Database>, worker: WorkerProfile, skipCases: readonly string[]): Promise<Candidate[]> {
  if (worker.teams.length === 0) return [];
  const free: Record<string, number> = {};
  for (const [bucket, units] of Object.entries(worker.capacity)) free[bucket] = units - (worker.used[bucket] ?? 0);
  const { rows } = await sql<{ id: string; case_id: string; kind: string; effort: number }>`
    select w.id, w.case_id, w.kind, w.effort
    from unnest(${worker.teams}::text[]) as q(name)
    cross join lateral (
      select t.id, t.case_id, t.kind, t.effort, t.priority_rank, t.breach_at, t.opened_at
      from tasks t
      where t.status = 'open' and t.assignee_id is null and t.work_queue = q.name
        and (t.role is null or (case t.role when 'agent' then 1 when 'supervisor' then 2 when 'admin' then 3 else 2 end) <= ${RANKS[worker.role] ?? 0})
        and not exists (select 1 from jsonb_each_text(t.skills) s
                        where coalesce((${JSON.stringify(worker.skills)}::jsonb ->> s.key)::int, 0) < s.value::int)
        and t.effort <= coalesce((${JSON.stringify(free)}::jsonb ->> (case when ${JSON.stringify(worker.capacity)}::jsonb ? t.kind then t.kind else 'default' end))::int, 0)
        and t.case_id <> all(${skipCases}::text[])
      order by t.priority_rank desc, t.breach_at asc nulls last, t.opened_at, t.id
      limit 1
      for update of t skip locked
    ) w
    order by w.priority_rank desc, w.breach_at asc nulls last, w.opened_at, w.id`.execute(trx);
  return rows.map((r) => ({ id: r.id, caseId: r.case_id, kind: r.kind, effort: r.effort }));
}

/**
 * Locks the case unless another transaction holds it (`SKIP LOCKED`): a pull never waits on a
 * case while holding task rows, so it cannot deadlock with a command that holds the case and
 * writes those rows. Undefined: held elsewhere (or gone).
 */
export async function lockCaseIfFree(
  trx: Transaction<Database>,
  caseId: string,
): Promise<{ state: CaseState; dbNow: Date; handoff: HandoffInput } | undefined> {
  // The handoff brief's input (journal since the last handoff, latest customer content) in the
  // same round trip as the lock.
  const { rows } = await sql<{ state: CaseState; db_now: Date | string } & HandoffColumns>`
    with c as (select id, state, statement_timestamp() as db_now from cases where id = ${caseId} for update skip locked)
    select c.state, c.db_now, ${handoffColumns(sql`c.id`, sql`coalesce((c.state->'handoffBrief'->>'atVersion')::int, 0)`)}
    from c`.execute(trx);
  const row = rows[0];
  return row ? { state: row.state, dbNow: new Date(row.db_now), handoff: toHandoffInput(row) } : undefined;
}
