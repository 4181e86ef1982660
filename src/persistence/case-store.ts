/**
 * The case store: one round trip to lock and load a case, one to write everything a decision
 * produced (one statement of data-modifying CTEs), inside the caller's transaction.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Actor, CaseState, ContentItem, Effect, JournalEntry, OutboundEvent, Task, TimerSpec } from '../cases/types.js';
import type { FragmentDefinition } from '../fragments/types.js';
import { canonicalHash } from '../templates/canonical-hash.js';
import { goalViewsCte } from './goal-views.js';
import type { Database } from './schema.js';

export interface IdempotencyRecord {
  owner: string;
  key: string;
  requestHash: string;
  statusCode: number;
  response: unknown;
}

export interface SaveInput {
  /** Absent for `case.open`. */
  previousVersion: number | undefined;
  /** The case as loaded (absent for `case.open`): the goal views are rewritten only when their part changed. */
  previous?: CaseState;
  next: CaseState;
  effects: Effect[];
  journal: JournalEntry[];
  /** The timer whose firing this decision applies: marked fired in the same statement. */
  firedTimerId?: string;
  idempotency?: IdempotencyRecord;
}

type Db = Kysely<Database> | Transaction<Database>;

/** Locks the case row (`FOR UPDATE`) and returns the aggregate, or undefined. */
export async function loadCaseForUpdate(trx: Transaction<Database>, caseId: string): Promise<CaseState | undefined> {
  const row = await trx.selectFrom('cases').select('state').where('id', '=', caseId).forUpdate().executeTakeFirst();
  return row?.state as CaseState | undefined;
}

export async function loadCase(db: Db, caseId: string): Promise<CaseState | undefined> {
  const row = await db.selectFrom('cases').select('state').where('id', '=', caseId).executeTakeFirst();
  return row?.state as CaseState | undefined;
}

const json = (value: unknown) => JSON.stringify(value);

function collect(effects: Effect[]) {
  const tasks: Task[] = [];
  const timers: TimerSpec[] = [];
  const cancelled: string[] = [];
  const outbox: OutboundEvent[] = [];
  const content: ContentItem[] = [];
  const definitions: FragmentDefinition[] = [];
  for (const effect of effects) {
    switch (effect.type) {
      case 'task.upsert': {
        // Several upserts of one task in one decision: the last one is its state.
        const at = tasks.findIndex((t) => t.id === effect.task.id);
        if (at >= 0) tasks.splice(at, 1);
        tasks.push(effect.task);
        break;
      }
      case 'timer.schedule':
        timers.push(effect.timer);
        break;
      case 'timer.cancel':
        cancelled.push(effect.timerId);
        break;
      case 'outbox.emit':
        outbox.push(effect.event);
        break;
      case 'content.add':
        content.push(effect.item);
        break;
      case 'definition.store':
        definitions.push(effect.definition);
        break;
    }
  }
  // A timer scheduled and cancelled in the same decision never needs a row.
  const cancelledSet = new Set(cancelled);
  return { tasks, timers: timers.filter((t) => !cancelledSet.has(t.id)), cancelled, outbox, content, definitions };
}

function journalRows(journal: JournalEntry[]) {
  return journal.map((e, idx) => ({
    idx,
    type: e.type,
    actor_id: e.actor.id,
    actor_role: e.actor.role,
    reason: e.reason ?? null,
    data: e.data,
    at: e.at,
  }));
}

function taskRows(tasks: Task[]) {
  return tasks.map((t) => ({
    id: t.id,
    fragment_id: t.fragmentId,
    title: t.title,
    status: t.status,
    role: t.role ?? null,
    assignee_id: t.assignment.userId ?? null,
    queue: t.assignment.queue ?? null,
    due_at: t.dueAt ?? null,
    opened_at: t.openedAt,
    closed_at: t.closedAt ?? null,
    body: t,
  }));
}

/**
 * Writes the case and everything the decision produced in one statement.
 * Returns false when the case row was not at `previousVersion` (a concurrent writer won).
 * Throws the driver's unique violation when the idempotency key is already stored.
 */
export async function saveDecision(trx: Transaction<Database>, input: SaveInput): Promise<boolean> {
  const c = input.next;
  const { tasks, timers, cancelled, outbox, content, definitions } = collect(input.effects);
  const caseWrite =
    input.previousVersion === undefined
      ? sql`insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, customer_id,
              version, state, opened_at, updated_at, closed_at)
            values (${c.id}, ${c.template.key}, ${c.template.version}, ${c.title}, ${c.status}, ${c.priority},
              ${c.ownerId ?? null}, ${c.queue ?? null}, ${c.customer?.id ?? null}, ${c.version}, ${json(c)}::jsonb,
              ${c.openedAt}, ${c.updatedAt}, ${c.closedAt ?? null})
            returning id`
      : sql`update cases set title = ${c.title}, status = ${c.status}, priority = ${c.priority},
              owner_id = ${c.ownerId ?? null}, queue = ${c.queue ?? null}, customer_id = ${c.customer?.id ?? null},
              version = ${c.version}, state = ${json(c)}::jsonb, updated_at = ${c.updatedAt}, closed_at = ${c.closedAt ?? null}
            where id = ${c.id} and version = ${input.previousVersion}
            returning id`;

  const idem = input.idempotency;
  // Only the parts this decision needs: Postgres parses and plans the statement on every call,
  // and a typical event writes just the case and its journal.
  const parts: RawBuilder<unknown>[] = [sql`written as (${caseWrite})`];
  if (input.journal.length > 0) {
    parts.push(sql`journal_rows as (
      insert into journal (case_id, version, idx, type, actor_id, actor_role, reason, data, at)
      select ${c.id}, ${c.version}, j.idx, j.type, j.actor_id, j.actor_role, j.reason, j.data, j.at
      from jsonb_to_recordset(${json(journalRows(input.journal))}::jsonb)
        as j(idx int, type text, actor_id text, actor_role text, reason text, data jsonb, at timestamptz)
      where exists (select 1 from written))`);
  }
  if (tasks.length > 0) {
    parts.push(sql`task_rows as (
      insert into tasks (id, case_id, fragment_id, title, status, role, assignee_id, queue, due_at, opened_at, closed_at, body)
      select t.id, ${c.id}, t.fragment_id, t.title, t.status, t.role, t.assignee_id, t.queue, t.due_at, t.opened_at, t.closed_at, t.body
      from jsonb_to_recordset(${json(taskRows(tasks))}::jsonb)
        as t(id text, fragment_id text, title text, status text, role text, assignee_id text, queue text,
             due_at timestamptz, opened_at timestamptz, closed_at timestamptz, body jsonb)
      where exists (select 1 from written)
      on conflict (id) do update set title = excluded.title, status = excluded.status, assignee_id = excluded.assignee_id,
        queue = excluded.queue, due_at = excluded.due_at, closed_at = excluded.closed_at, body = excluded.body)`);
  }
  if (timers.length > 0) {
    parts.push(sql`timer_rows as (
      insert into timers (id, case_id, kind, fragment_id, goal_key, due_at, event)
      select t.id, ${c.id}, t.kind, t."fragmentId", t."goalKey", t."dueAt", t.event
      from jsonb_to_recordset(${json(timers)}::jsonb)
        as t(id text, kind text, "fragmentId" text, "goalKey" text, "dueAt" timestamptz, event jsonb)
      where exists (select 1 from written))`);
  }
  if (cancelled.length > 0) {
    parts.push(sql`cancelled_timers as (
      update timers set status = 'cancelled', settled_at = ${c.updatedAt}
      where id in (select jsonb_array_elements_text(${json(cancelled)}::jsonb)) and status = 'pending'
        and exists (select 1 from written))`);
  }
  if (input.firedTimerId !== undefined) {
    parts.push(sql`fired_timer as (
      update timers set status = 'fired', settled_at = ${c.updatedAt}
      where id = ${input.firedTimerId} and status = 'pending' and exists (select 1 from written))`);
  }
  if (outbox.length > 0) {
    parts.push(sql`outbox_rows as (
      insert into outbox (id, case_id, type, data, occurred_at)
      select o.id, ${c.id}, o.type, o.data, o."occurredAt"
      from jsonb_to_recordset(${json(outbox.map((event, n) => ({ ...event, n })))}::jsonb)
        as o(id text, type text, data jsonb, "occurredAt" timestamptz, n int)
      where exists (select 1 from written)
      order by o.n)`);
  }
  if (content.length > 0) {
    parts.push(sql`content_rows as (
      insert into content (id, case_id, kind, data, added_by, added_at)
      select x.id, ${c.id}, x.kind, x.data, x."addedBy", x."addedAt"
      from jsonb_to_recordset(${json(content)}::jsonb) as x(id text, kind text, data jsonb, "addedBy" text, "addedAt" timestamptz)
      where exists (select 1 from written))`);
  }
  if (definitions.length > 0) {
    parts.push(sql`definition_rows as (
      insert into definitions (kind, key, version, hash, source, body)
      select 'fragment', d.key, d.version, d.hash, 'api', d.body
      from jsonb_to_recordset(${json(definitions.map((body) => ({ key: body.key, version: body.version, hash: canonicalHash(body), body })))}::jsonb)
        as d(key text, version int, hash text, body jsonb)
      where exists (select 1 from written)
      on conflict do nothing)`);
  }
  const goalViews = goalViewsCte([{ previous: input.previous, next: c }]);
  if (goalViews) parts.push(goalViews);
  if (idem) {
    parts.push(sql`idempotency_row as (
      insert into idempotency_keys (owner, key, request_hash, case_id, status_code, response)
      select ${idem.owner}, ${idem.key}, ${idem.requestHash}, ${c.id}, ${idem.statusCode}, ${json(idem.response)}::jsonb
      where exists (select 1 from written))`);
  }
  const result = await sql<{ written: number }>`
    with ${sql.join(parts, sql`, `)}
    select count(*)::int as written from written
  `.execute(trx);
  return (result.rows[0]?.written ?? 0) > 0;
}

/** Marks a timer fired without changing its case (a stale or already-applied timer). */
export async function settleTimer(db: Db, timerId: string, at: string): Promise<void> {
  await db
    .updateTable('timers')
    .set({ status: 'fired', settled_at: at })
    .where('id', '=', timerId)
    .where('status', '=', 'pending')
    .execute();
}

export async function findIdempotencyRecord(db: Db, owner: string, key: string) {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'response'])
    .where('owner', '=', owner)
    .where('key', '=', key)
    .executeTakeFirst();
}

export type { Actor };
