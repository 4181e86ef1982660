/**
 * The case store: one round trip to lock and load a case, one to write everything a decision
 * produced (one statement of data-modifying CTEs), inside the caller's transaction.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { PRIORITY_RANK } from '../cases/task-eligibility.js';
import type { CommandRecord } from '../cases/command-record.js';
import type { Actor, CaseState, ContentItem, ContentRevision, Effect, JournalEntry, OutboundEvent, Task, TimerSpec } from '../cases/types.js';
import type { CustomerState } from '../customers/types.js';
import type { FragmentDefinition } from '../fragments/types.js';
import { TesseraError } from '../errors.js';
import { canonicalHash } from '../templates/canonical-hash.js';
import { goalViewsCte } from './goal-views.js';
import { COMMITS, opaqueArray, PREPARED } from './prepared-statement.js';
import type { Database } from './schema.js';

/** The row versions a decision was read from, when it was not read under a lock: what the write checks. */
export interface ReadFrom {
  /** `xmin` of the case row, as text. */
  caseXmin: string;
  /** `xmin` of the case's customer row (absent: the case had no customer row). */
  customerXmin?: string;
}

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
  /**
   * Present when the decision was made on a copy held in memory instead of a locked row
   * (commands/written-cases.ts): the write then checks that the case row, and its customer's
   * row, are still these row versions, and leaves the case out otherwise (see saveDecisions).
   */
  readFrom?: ReadFrom;
}

type Db = Kysely<Database> | Transaction<Database>;

/** A locked case and the database's time when the statement that locked it started. */
export interface LockedCase {
  state: CaseState;
  /** The case's customer, read (not locked) in the same statement: what CEL reads as `customer`. */
  customer?: CustomerState;
  /** `statement_timestamp()` of the lock: the command's "now" (never after the real time). */
  dbNow: Date;
}

/** Locks the case row (`FOR UPDATE`) and returns the aggregate with the database time, or undefined. */
export async function loadCaseForUpdate(trx: Transaction<Database>, caseId: string): Promise<LockedCase | undefined> {
  // The customer rides along in the lock statement (no second round trip); only the case row is locked.
  const { rows } = await sql<{ state: unknown; customer: unknown; db_now: Date | string }>`${PREPARED}
    select cases.state, (select cu.state from customers cu where cu.id = cases.customer_id) as customer, statement_timestamp() as db_now
    from cases
    where cases.id = ${caseId}
    for update`.execute(trx);
  const row = rows[0];
  if (!row) return undefined;
  const locked: LockedCase = { state: row.state as CaseState, dbNow: new Date(row.db_now) };
  if (row.customer) locked.customer = row.customer as CustomerState;
  return locked;
}

/**
 * Locks several case rows and returns their aggregates by id, and the database's time (absent
 * when no case was found). Rows are locked in id order, so two batches that share cases wait for
 * each other instead of deadlocking.
 */
export async function loadCasesForUpdate(
  trx: Transaction<Database>,
  caseIds: string[],
): Promise<{ states: Map<string, CaseState>; customers: Map<string, CustomerState>; readFrom: Map<string, ReadFrom>; dbNow: Date | undefined }> {
  const { rows } = await sql<{ id: string; state: unknown; customer: unknown; case_xmin: string; customer_xmin: string | null; db_now: Date | string }>`${PREPARED}
    select cases.id, cases.state, (select cu.state from customers cu where cu.id = cases.customer_id) as customer,
      cases.xmin::text as case_xmin, (select cu.xmin::text from customers cu where cu.id = cases.customer_id) as customer_xmin,
      statement_timestamp() as db_now
    from cases
    where cases.id = any(${opaqueArray(caseIds, 'text')})
    order by cases.id
    for update`.execute(trx);
  return {
    states: new Map(rows.map((row) => [row.id, row.state as CaseState])),
    /** By case id. */
    customers: new Map(rows.flatMap((row) => (row.customer ? [[row.id, row.customer as CustomerState] as const] : []))),
    /** The row versions read, by case id: what a copy of the case kept after its write starts from (commands/written-cases.ts). */
    readFrom: new Map(rows.map((row) => [row.id, { caseXmin: row.case_xmin, ...(row.customer_xmin ? { customerXmin: row.customer_xmin } : {}) }])),
    dbNow: rows[0] ? new Date(rows[0].db_now) : undefined,
  };
}

/** The database's time at the start of this statement (a command with no case to lock: `case.open`). */
export async function readDbTime(trx: Transaction<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date | string }>`select statement_timestamp() as now`.execute(trx);
  return new Date(rows[0]!.now);
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
  const contentUpdates: ContentItem[] = [];
  const revisions: ContentRevision[] = [];
  const definitions: FragmentDefinition[] = [];
  const records: CommandRecord[] = [];
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
        // A post's first version starts its history.
        if (effect.item.revision !== undefined) {
          revisions.push({
            contentId: effect.item.id,
            revision: effect.item.revision,
            data: effect.item.data,
            ...(effect.item.analysis ? { analysis: effect.item.analysis } : {}),
            at: effect.item.addedAt,
            by: effect.item.addedBy,
          });
        }
        break;
      case 'content.update':
        contentUpdates.push(effect.item);
        revisions.push(effect.revision);
        break;
      case 'definition.store':
        definitions.push(effect.definition);
        break;
      case 'command.record':
        records.push(effect.record);
        break;
    }
  }
  // A timer scheduled and cancelled in the same decision never needs a row.
  const cancelledSet = new Set(cancelled);
  return { tasks, timers: timers.filter((t) => !cancelledSet.has(t.id)), cancelled, outbox, content, contentUpdates, revisions, definitions, records };
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

/**
 * What routing reads of a case on each of its open task rows (migration 0025): priority as a
 * rank, the earliest deadline of its open goals (time to breach) and their worst SLA state.
 */
export function caseRouting(c: CaseState): { priority_rank: number; breach_at: string | null; sla: string | null } {
  let breachAt: string | null = null;
  let worst = 0;
  for (const g of c.goals) {
    if (g.status !== 'open') continue;
    if (g.deadlineAt !== undefined && (breachAt === null || Date.parse(g.deadlineAt) < Date.parse(breachAt))) breachAt = g.deadlineAt;
    worst = Math.max(worst, g.sla === 'breached' ? 3 : g.sla === 'at_risk' ? 2 : g.sla === 'on_track' ? 1 : 0);
  }
  return { priority_rank: PRIORITY_RANK[c.priority] ?? 2, breach_at: breachAt, sla: SLA_BY_RANK[worst] ?? null };
}

const SLA_BY_RANK: Record<number, string> = { 1: 'on_track', 2: 'at_risk', 3: 'breached' };

function sameRouting(a: ReturnType<typeof caseRouting>, b: ReturnType<typeof caseRouting>): boolean {
  return a.priority_rank === b.priority_rank && a.breach_at === b.breach_at && a.sla === b.sla;
}

function taskRows(tasks: Task[], routing: ReturnType<typeof caseRouting>) {
  return tasks.map((t) => ({
    ...routing,
    work_queue: t.queue ?? t.assignment.queue ?? null,
    skills: t.skills ?? {},
    effort: t.effort ?? 1,
    kind: t.kind ?? 'default',
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

/** A case row as the cases table holds it; `previous_version` null means the case is new. */
function caseRow(input: SaveInput) {
  const c = input.next;
  return {
    id: c.id,
    previous_version: input.previousVersion ?? null,
    template_key: c.template.key,
    template_version: c.template.version,
    title: c.title,
    status: c.status,
    priority: c.priority,
    owner_id: c.ownerId ?? null,
    queue: c.queue ?? null,
    customer_id: c.customer?.id ?? null,
    version: c.version,
    state: c,
    opened_at: c.openedAt,
    updated_at: c.updatedAt,
    closed_at: c.closedAt ?? null,
    read_case_xmin: input.readFrom?.caseXmin ?? null,
    read_customer_xmin: input.readFrom?.customerXmin ?? null,
  };
}

const CASE_RECORD = sql`n(id text, previous_version int, template_key text, template_version int, title text, status text,
  priority text, owner_id text, queue text, customer_id text, version int, state jsonb,
  opened_at timestamptz, updated_at timestamptz, closed_at timestamptz, read_case_xmin text, read_customer_xmin text)`;

/**
 * Writes the case and everything the decision produced in one statement.
 * Returns false when the case row was not at `previousVersion` (a concurrent writer won).
 * Throws the driver's unique violation when the idempotency key is already stored.
 */
export async function saveDecision(trx: Transaction<Database>, input: SaveInput): Promise<Saved> {
  return saveDecisions(trx, [input]);
}

export interface Saved {
  /** Cases written: always all of them (the statement fails otherwise). */
  written: number;
  /** Outbox rows some enabled subscription wants: the relay hands these over for fan-out. */
  pendingOutbox: string[];
  /**
   * `xmin` of each case row written, by case id: the row version a copy of the case starts from.
   * A case decided on a stale copy is not in it (it was not written).
   */
  rowVersions: Map<string, string>;
  /** `statement_timestamp()` of the write (absent when nothing was written). */
  dbNow?: Date;
}

/**
 * Writes several decisions — each for a different case, all locked by the caller — in one
 * statement, so a batch of timer firings costs one round trip and one plan, not one per case.
 * `settledTimers` are fired timers that changed nothing (stale): marked fired all the same.
 * Every case must be at its `previousVersion` (new ones absent): the statement checks it itself
 * and fails whole otherwise, which throws VERSION_MISMATCH (the caller's transaction is then
 * aborted and rolls back). A decision made on a copy (`readFrom`) whose rows changed since is
 * the exception: that case alone is left out — neither it nor anything of its decision is
 * written — and it is missing from `rowVersions`, for the caller to decide again. Returns the
 * number of cases written and the outbox rows left for fan-out. With `commits`, COMMIT goes in
 * the same round trip (prepared-statement.ts, COMMITS): the caller does nothing in the
 * transaction after it.
 */
export async function saveDecisions(
  trx: Transaction<Database>,
  inputs: SaveInput[],
  settledTimers: { id: string; at: string }[] = [],
  options: { commits?: boolean } = {},
): Promise<Saved> {
  const inserts = inputs.filter((i) => i.previousVersion === undefined).map(caseRow);
  const updates = inputs.filter((i) => i.previousVersion !== undefined).map(caseRow);
  const writes = inputs.map((input) => ({ caseId: input.next.id, version: input.next.version, ...collect(input.effects), input }));
  const rowsOf = <T>(pick: (w: (typeof writes)[number]) => T[]) =>
    writes.flatMap((w) => pick(w).map((row) => ({ ...row, case_id: w.caseId })));

  // Only the parts this batch needs: a typical event writes just the case and its journal.
  // Every update joins its rows to the table through `= any(ids)` as well as the join itself:
  // the planner estimates 100 rows for any jsonb_to_recordset, so on a table of a few thousand
  // rows a plan without it hashes the input and scans the whole table on every write (and the
  // prepared statement keeps that plan); the ids make the primary key (or case index) drive it.
  const parts: RawBuilder<unknown>[] = [];
  const written: RawBuilder<unknown>[] = [];
  if (inserts.length > 0) {
    parts.push(sql`inserted as (
      insert into cases (id, template_key, template_version, title, status, priority, owner_id, queue, customer_id,
        version, state, opened_at, updated_at, closed_at)
      select n.id, n.template_key, n.template_version, n.title, n.status, n.priority, n.owner_id, n.queue, n.customer_id,
        n.version, n.state, n.opened_at, n.updated_at, n.closed_at
      from jsonb_to_recordset(${json(inserts)}::jsonb) as ${CASE_RECORD}
      returning id, xmin::text as xmin, false as from_copy)`);
    written.push(sql`select id, xmin, from_copy from inserted`);
  }
  if (updates.length > 0) {
    // A decision made on a copy (commands/written-cases.ts) holds no lock on what it read: the
    // rows must still be the row versions the copy came from, or the case is not written —
    // and then nothing of its decision is (every other part keeps to the cases `written` holds).
    const readFromCheck = inputs.some((i) => i.readFrom)
      ? sql` and (n.read_case_xmin is null or (c.xmin::text = n.read_case_xmin
          and (select cu.xmin::text from customers cu where cu.id = c.customer_id) is not distinct from n.read_customer_xmin))`
      : sql``;
    parts.push(sql`updated as (
      update cases c set title = n.title, status = n.status, priority = n.priority, owner_id = n.owner_id, queue = n.queue,
        customer_id = n.customer_id, version = n.version, state = n.state, updated_at = n.updated_at, closed_at = n.closed_at
      from jsonb_to_recordset(${json(updates)}::jsonb) as ${CASE_RECORD}
      where c.id = any(${opaqueArray(updates.map((u) => u.id), 'text')}) and c.id = n.id and c.version = n.previous_version${readFromCheck}
      returning c.id, c.xmin::text as xmin, n.read_case_xmin is not null as from_copy)`);
    written.push(sql`select id, xmin, from_copy from updated`);
  }
  if (written.length > 0) parts.push(sql`written as (${sql.join(written, sql` union all `)})`);

  const journal = rowsOf((w) => journalRows(w.input.journal).map((row) => ({ ...row, version: w.version })));
  if (journal.length > 0) {
    parts.push(sql`journal_rows as (
      insert into journal (case_id, version, idx, type, actor_id, actor_role, reason, data, at)
      select j.case_id, j.version, j.idx, j.type, j.actor_id, j.actor_role, j.reason, j.data, j.at
      from jsonb_to_recordset(${json(journal)}::jsonb)
        as j(case_id text, version int, idx int, type text, actor_id text, actor_role text, reason text, data jsonb, at timestamptz)
      where j.case_id in (select id from written))`);
  }
  const commandRecords = rowsOf((w) => w.records.map((r) => ({ version: r.version, type: r.command.type, at: r.at, record: r })));
  if (commandRecords.length > 0) {
    parts.push(sql`command_rows as (
      insert into journal_commands (case_id, version, type, at, record)
      select r.case_id, r.version, r.type, r.at, r.record
      from jsonb_to_recordset(${json(commandRecords)}::jsonb) as r(case_id text, version int, type text, at timestamptz, record jsonb)
      where r.case_id in (select id from written))`);
  }
  const tasks = rowsOf((w) => taskRows(w.tasks, caseRouting(w.input.next)));
  if (tasks.length > 0) {
    parts.push(sql`task_rows as (
      insert into tasks (id, case_id, fragment_id, title, status, role, assignee_id, queue, due_at, opened_at, closed_at, body,
        work_queue, skills, effort, kind, priority_rank, breach_at, sla)
      select t.id, t.case_id, t.fragment_id, t.title, t.status, t.role, t.assignee_id, t.queue, t.due_at, t.opened_at, t.closed_at, t.body,
        t.work_queue, t.skills, t.effort, t.kind, t.priority_rank, t.breach_at, t.sla
      from jsonb_to_recordset(${json(tasks)}::jsonb)
        as t(id text, case_id text, fragment_id text, title text, status text, role text, assignee_id text, queue text,
             due_at timestamptz, opened_at timestamptz, closed_at timestamptz, body jsonb,
             work_queue text, skills jsonb, effort int, kind text, priority_rank smallint, breach_at timestamptz, sla text)
      where t.case_id in (select id from written)
      on conflict (id) do update set title = excluded.title, status = excluded.status, assignee_id = excluded.assignee_id,
        queue = excluded.queue, due_at = excluded.due_at, closed_at = excluded.closed_at, body = excluded.body,
        work_queue = excluded.work_queue, priority_rank = excluded.priority_rank, breach_at = excluded.breach_at, sla = excluded.sla)`);
  }
  // A case whose priority, earliest open deadline or SLA state changed rewrites them on its other
  // open task rows (the ones upserted above already carry them: one row is changed once per statement).
  const rerouted = writes.flatMap((w) => {
    if (!w.input.previous) return [];
    const next = caseRouting(w.input.next);
    if (sameRouting(caseRouting(w.input.previous), next)) return [];
    return [{ case_id: w.caseId, ...next, skip: w.tasks.map((t) => t.id) }];
  });
  if (rerouted.length > 0) {
    parts.push(sql`rerouted_tasks as (
      update tasks t set priority_rank = r.priority_rank, breach_at = r.breach_at, sla = r.sla
      from jsonb_to_recordset(${json(rerouted)}::jsonb)
        as r(case_id text, priority_rank smallint, breach_at timestamptz, sla text, skip jsonb)
      where t.case_id = any(${opaqueArray(rerouted.map((r) => r.case_id), 'text')}) and t.case_id = r.case_id and t.status = 'open'
        and not (r.skip ? t.id) and r.case_id in (select id from written))`);
  }
  const timers = rowsOf((w) => w.timers);
  if (timers.length > 0) {
    parts.push(sql`timer_rows as (
      insert into timers (id, case_id, kind, fragment_id, goal_key, due_at, event)
      select t.id, t.case_id, t.kind, t."fragmentId", t."goalKey", t."dueAt", t.event
      from jsonb_to_recordset(${json(timers)}::jsonb)
        as t(id text, case_id text, kind text, "fragmentId" text, "goalKey" text, "dueAt" timestamptz, event jsonb)
      where t.case_id in (select id from written))`);
  }
  const cancelled = rowsOf((w) => w.cancelled.map((id) => ({ id, at: w.input.next.updatedAt })));
  if (cancelled.length > 0) {
    parts.push(sql`cancelled_timers as (
      update timers t set status = 'cancelled', settled_at = x.at
      from jsonb_to_recordset(${json(cancelled)}::jsonb) as x(id text, case_id text, at timestamptz)
      where t.id = any(${opaqueArray(cancelled.map((x) => x.id), 'text')}) and t.id = x.id and t.status = 'pending' and x.case_id in (select id from written))`);
  }
  const fired = inputs.flatMap((i) => (i.firedTimerId === undefined ? [] : [{ id: i.firedTimerId, case_id: i.next.id, at: i.next.updatedAt }]));
  if (fired.length > 0) {
    parts.push(sql`fired_timers as (
      update timers t set status = 'fired', settled_at = x.at
      from jsonb_to_recordset(${json(fired)}::jsonb) as x(id text, case_id text, at timestamptz)
      where t.id = any(${opaqueArray(fired.map((x) => x.id), 'text')}) and t.id = x.id and t.status = 'pending' and x.case_id in (select id from written))`);
  }
  if (settledTimers.length > 0) {
    parts.push(sql`settled_timers as (
      update timers t set status = 'fired', settled_at = x.at
      from jsonb_to_recordset(${json(settledTimers)}::jsonb) as x(id text, at timestamptz)
      where t.id = any(${opaqueArray(settledTimers.map((x) => x.id), 'text')}) and t.id = x.id and t.status = 'pending')`);
  }
  const outbox = rowsOf((w) => w.outbox.map((event, n) => ({ ...event, n })));
  if (outbox.length > 0) {
    // An event no enabled subscription wants is born fanned out (to nobody): no dispatch job, no
    // second write. A subscription sees the events of statements that start after it committed.
    parts.push(sql`outbox_rows as (
      insert into outbox (id, case_id, type, data, occurred_at, status)
      select o.id, o.case_id, o.type, o.data, o."occurredAt",
        case when exists (select 1 from webhook_subscriptions s
                          where s.enabled and (o.type = any(s.event_types) or '*' = any(s.event_types)))
             then 'pending' else 'dispatched' end
      from jsonb_to_recordset(${json(outbox)}::jsonb)
        as o(id text, case_id text, type text, data jsonb, "occurredAt" timestamptz, n int)
      where o.case_id in (select id from written)
      order by o.case_id, o.n
      returning id, status)`);
  }
  const content = rowsOf((w) => w.content);
  if (content.length > 0) {
    parts.push(sql`content_rows as (
      insert into content (id, case_id, kind, data, added_by, added_at, analysis, revision)
      select x.id, x.case_id, x.kind, x.data, x."addedBy", x."addedAt", x.analysis, coalesce(x.revision, 1)
      from jsonb_to_recordset(${json(content)}::jsonb)
        as x(id text, case_id text, kind text, data jsonb, "addedBy" text, "addedAt" timestamptz, analysis jsonb, revision int)
      where x.case_id in (select id from written)
      returning id)`);
  }
  const contentUpdates = rowsOf((w) => w.contentUpdates);
  if (contentUpdates.length > 0) {
    // The row keeps the latest of every field (a shallow merge: fields left out keep their value).
    parts.push(sql`content_updates as (
      update content c set data = c.data || x.data, analysis = coalesce(x.analysis, c.analysis), revision = x.revision,
        updated_at = x."updatedAt", updated_by = x."updatedBy"
      from jsonb_to_recordset(${json(contentUpdates)}::jsonb)
        as x(id text, case_id text, data jsonb, analysis jsonb, revision int, "updatedAt" timestamptz, "updatedBy" text)
      where c.id = any(${opaqueArray(contentUpdates.map((x) => x.id), 'text')}) and c.id = x.id and c.case_id = x.case_id
        and x.case_id in (select id from written))`);
  }
  const revisions = rowsOf((w) => w.revisions);
  if (revisions.length > 0) {
    // A first revision references a content row inserted by the same statement: the foreign key
    // is checked at the end of the statement, so the order of the CTEs does not matter.
    parts.push(sql`revision_rows as (
      insert into content_revisions (content_id, revision, case_id, data, analysis, at, by)
      select x."contentId", x.revision, x.case_id, x.data, x.analysis, x.at, x.by
      from jsonb_to_recordset(${json(revisions)}::jsonb)
        as x("contentId" text, revision int, case_id text, data jsonb, analysis jsonb, at timestamptz, by text)
      where x.case_id in (select id from written))`);
  }
  const definitions = rowsOf((w) => w.definitions.map((body) => ({ key: body.key, version: body.version, hash: canonicalHash(body), body })));
  if (definitions.length > 0) {
    parts.push(sql`definition_rows as (
      insert into definitions (kind, key, version, hash, source, body)
      select 'fragment', d.key, d.version, d.hash, 'api', d.body
      from jsonb_to_recordset(${json(definitions)}::jsonb) as d(case_id text, key text, version int, hash text, body jsonb)
      where d.case_id in (select id from written)
      on conflict do nothing)`);
  }
  const goalViews = goalViewsCte(inputs.map((i) => ({ previous: i.previous, next: i.next })));
  if (goalViews) parts.push(goalViews);
  const idempotency = inputs.flatMap((i) =>
    i.idempotency
      ? [{ owner: i.idempotency.owner, key: i.idempotency.key, request_hash: i.idempotency.requestHash, case_id: i.next.id,
          status_code: i.idempotency.statusCode, response: i.idempotency.response }]
      : [],
  );
  if (idempotency.length > 0) {
    parts.push(sql`idempotency_rows as (
      insert into idempotency_keys (owner, key, request_hash, case_id, status_code, response)
      select k.owner, k.key, k.request_hash, k.case_id, k.status_code, k.response
      from jsonb_to_recordset(${json(idempotency)}::jsonb)
        as k(owner text, key text, request_hash text, case_id text, status_code int, response jsonb)
      where k.case_id in (select id from written))`);
  }
  if (parts.length === 0) return { written: 0, pendingOutbox: [], rowVersions: new Map() };
  try {
    const result = await sql<{ written: number; pending_outbox: string[] | null; row_versions: Record<string, string> | null; db_now: Date | string }>`${PREPARED}${options.commits ? COMMITS : sql``}
      with ${sql.join(parts, sql`, `)}
      select ${written.length > 0 ? sql`tessera_cases_written((select count(*) from written where not from_copy), ${inputs.filter((i) => !i.readFrom).length}::int)` : sql`0`} as written,
        ${outbox.length > 0 ? sql`(select array_agg(id) from outbox_rows where status = 'pending')` : sql`null::text[]`} as pending_outbox,
        ${written.length > 0 ? sql`(select json_object_agg(id, xmin) from written)` : sql`null::json`} as row_versions,
        statement_timestamp() as db_now
    `.execute(trx);
    const row = result.rows[0];
    return {
      written: row?.written ?? 0,
      pendingOutbox: row?.pending_outbox ?? [],
      rowVersions: new Map(Object.entries(row?.row_versions ?? {})),
      ...(row ? { dbNow: new Date(row.db_now) } : {}),
    };
  } catch (err) {
    // The statement checks itself (migration 0072): a case not at its expected version fails it whole.
    if ((err as { code?: unknown }).code === CASES_NOT_WRITTEN) throw new TesseraError('VERSION_MISMATCH', 'A case changed concurrently; try again');
    throw err;
  }
}

/** SQLSTATE of tessera_cases_written: the write statement found a case not at its expected version. */
const CASES_NOT_WRITTEN = 'TS409';

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

/** A stored idempotency answer, as findIdempotencyRecord reads it. */
export type StoredIdempotency = NonNullable<Awaited<ReturnType<typeof findIdempotencyRecord>>>;

/**
 * findIdempotencyRecord for many keys in one statement (the commands of a batch of inbox rows):
 * one answer per ref, in order; undefined where the key was never used. Prepared: its text does
 * not depend on how many keys it asks for.
 */
export async function findIdempotencyRecords(db: Db, refs: { owner: string; key: string }[]): Promise<(StoredIdempotency | undefined)[]> {
  if (refs.length === 0) return [];
  const { rows } = await sql<StoredIdempotency & { i: number }>`${PREPARED}
    select q.i, k.request_hash, k.status_code, k.response
    from unnest(${opaqueArray(refs.map((_, i) => i), 'int')}, ${opaqueArray(refs.map((r) => r.owner), 'text')}, ${opaqueArray(refs.map((r) => r.key), 'text')}) as q(i, owner, key)
    join idempotency_keys k on k.owner = q.owner and k.key = q.key`.execute(db);
  const found: (StoredIdempotency | undefined)[] = refs.map(() => undefined);
  for (const { i, ...record } of rows) found[i] = record;
  return found;
}

export type { Actor };
