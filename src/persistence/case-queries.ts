/** Read side: lists with filters and keyset cursors. Rows are mapped to plain objects here. */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { CaseState, Task } from '../cases/types.js';
import type { Database } from './schema.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An opaque cursor back to its fields, or undefined when it is not one of ours. */
export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined | 'invalid' {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return check(value) ? value : 'invalid';
  } catch {
    return 'invalid';
  }
}

type TimeCursor = { t: string; id: string };
export const isTimeCursor = (v: unknown): v is TimeCursor =>
  typeof v === 'object' && v !== null && typeof (v as TimeCursor).t === 'string' && typeof (v as TimeCursor).id === 'string' &&
  !Number.isNaN(Date.parse((v as TimeCursor).t));

type JournalCursor = { v: number; i: number };
export const isJournalCursor = (v: unknown): v is JournalCursor =>
  typeof v === 'object' && v !== null && Number.isInteger((v as JournalCursor).v) && Number.isInteger((v as JournalCursor).i);

export interface CaseFilters {
  status?: string;
  ownerId?: string;
  queue?: string;
  template?: string;
  customerId?: string;
  priority?: string;
  /** Agents: only the cases they may see (see `visibleCase`). */
  visibleTo?: Viewer;
  /** Only these case ids (a lookup: the cases of the tasks a worklist shows). */
  ids?: readonly string[];
}

/** An agent, for the visibility rule. */
export interface Viewer {
  userId: string;
  teams: readonly string[];
}

/**
 * The rule of http/access.ts `canSeeCase` for an agent, in SQL over `cases`: they own the case,
 * hold an open task on it, have a fragment of it, or the case's queue or an open task's queue is
 * one of their teams. A closed task no longer opens the case. Lists and reads by id agree.
 */
export function visibleCase(eb: ExpressionBuilder<Database, 'cases'>, viewer: Viewer) {
  const teams = sql<string[]>`${[...viewer.teams]}::text[]`;
  return eb.or([
    eb('cases.owner_id', '=', viewer.userId),
    eb('cases.queue', '=', eb.fn.any(teams)),
    eb.exists(
      eb
        .selectFrom('tasks as vt')
        .select(sql.lit(1).as('one'))
        .whereRef('vt.case_id', '=', 'cases.id')
        .where('vt.status', '=', 'open')
        .where((t) => t.or([t('vt.assignee_id', '=', viewer.userId), t('vt.queue', '=', t.fn.any(teams))])),
    ),
    sql<boolean>`cases.state -> 'fragments' @> ${JSON.stringify([{ assignment: { userId: viewer.userId } }])}::jsonb`,
  ]);
}

/** Newest first, keyset-paged by (opened_at, id). */
export async function listCases(db: Kysely<Database>, filters: CaseFilters, cursor: TimeCursor | undefined, limit: number): Promise<Page<CaseState>> {
  let q = db.selectFrom('cases').select(['state', 'opened_at', 'id']).orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
  if (filters.status) q = q.where('status', '=', filters.status);
  if (filters.ownerId) q = q.where('owner_id', '=', filters.ownerId);
  if (filters.queue) q = q.where('queue', '=', filters.queue);
  if (filters.template) q = q.where('template_key', '=', filters.template);
  if (filters.customerId) q = q.where('customer_id', '=', filters.customerId);
  if (filters.priority) q = q.where('priority', '=', filters.priority);
  if (filters.ids) q = filters.ids.length === 0 ? q.where(sql<boolean>`false`) : q.where('id', 'in', [...filters.ids]);
  const viewer = filters.visibleTo;
  if (viewer) q = q.where((eb) => visibleCase(eb, viewer));
  if (cursor) {
    const t = new Date(cursor.t);
    q = q.where((eb) => eb.or([eb('opened_at', '<', t), eb.and([eb('opened_at', '=', t), eb('id', '<', cursor.id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => r.state as CaseState),
    nextCursor: rows.length > limit && last ? encode({ t: new Date(last.opened_at).toISOString(), id: last.id }) : null,
  };
}

export interface TimelineEntry {
  version: number;
  idx: number;
  type: string;
  actor: { id: string; role: string };
  reason: string | null;
  data: unknown;
  at: string;
}

/** The journal in order of application. */
export async function readTimeline(db: Kysely<Database>, caseId: string, cursor: JournalCursor | undefined, limit: number): Promise<Page<TimelineEntry>> {
  let q = db.selectFrom('journal').selectAll().where('case_id', '=', caseId).orderBy('version').orderBy('idx').limit(limit + 1);
  if (cursor) {
    q = q.where((eb) => eb.or([eb('version', '>', cursor.v), eb.and([eb('version', '=', cursor.v), eb('idx', '>', cursor.i)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      version: r.version,
      idx: r.idx,
      type: r.type,
      actor: { id: r.actor_id, role: r.actor_role },
      reason: r.reason,
      data: r.data,
      at: new Date(r.at).toISOString(),
    })),
    nextCursor: rows.length > limit && last ? encode({ v: last.version, i: last.idx }) : null,
  };
}

export interface TaskFilters {
  assigneeId?: string;
  queue?: string;
  status?: string;
  caseId?: string;
  /** An agent's worklist: tasks assigned to them or queued to one of their teams. */
  mineOrTeams?: Viewer;
  /** Agents: only tasks of cases they may see (see `visibleCase`). */
  visibleTo?: Viewer;
}

/** Worklist: soonest due first (undated last), keyset-paged by (due_at, id). */
export async function listTasks(db: Kysely<Database>, filters: TaskFilters, cursor: TimeCursor | undefined, limit: number): Promise<Page<Task & { caseId: string }>> {
  const FAR = '9999-12-31T00:00:00.000Z';
  let q = db
    .selectFrom('tasks')
    .select(['body', 'case_id', 'id', 'due_at'])
    .orderBy('due_at', (ob) => ob.asc().nullsLast())
    .orderBy('id')
    .limit(limit + 1);
  if (filters.assigneeId) q = q.where('assignee_id', '=', filters.assigneeId);
  if (filters.queue) q = q.where('queue', '=', filters.queue);
  if (filters.caseId) q = q.where('case_id', '=', filters.caseId);
  const mine = filters.mineOrTeams;
  if (mine) {
    q = q.where((eb) => eb.or([eb('assignee_id', '=', mine.userId), eb('queue', '=', eb.fn.any(sql<string[]>`${[...mine.teams]}::text[]`))]));
  }
  const viewer = filters.visibleTo;
  if (viewer) {
    q = q.where('case_id', 'in', (eb) => eb.selectFrom('cases').select('cases.id').where((c) => visibleCase(c, viewer)));
  }
  q = q.where('status', '=', filters.status ?? 'open');
  if (cursor) {
    const t = new Date(cursor.t);
    q = cursor.t === FAR
      ? q.where('due_at', 'is', null).where('id', '>', cursor.id)
      : q.where((eb) =>
          eb.or([eb('due_at', '>', t), eb('due_at', 'is', null), eb.and([eb('due_at', '=', t), eb('id', '>', cursor.id)])]),
        );
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...(r.body as Task), caseId: r.case_id })),
    nextCursor:
      rows.length > limit && last ? encode({ t: last.due_at ? new Date(last.due_at).toISOString() : FAR, id: last.id }) : null,
  };
}

export async function findTask(db: Kysely<Database>, taskId: string): Promise<(Task & { caseId: string }) | undefined> {
  const row = await db.selectFrom('tasks').select(['body', 'case_id']).where('id', '=', taskId).executeTakeFirst();
  return row ? { ...(row.body as Task), caseId: row.case_id } : undefined;
}

/** Every version of a content item (a post's history), oldest first; undefined when the case has no such item. */
export async function listContentRevisions(db: Kysely<Database>, caseId: string, contentId: string) {
  const item = await db.selectFrom('content').select('id').where('id', '=', contentId).where('case_id', '=', caseId).executeTakeFirst();
  if (!item) return undefined;
  const rows = await db.selectFrom('content_revisions').selectAll().where('content_id', '=', contentId).orderBy('revision').execute();
  return rows.map((r) => ({ revision: r.revision, data: r.data, analysis: r.analysis ?? null, at: new Date(r.at).toISOString(), by: r.by }));
}

/** Case content in the order it was added, keyset-paged by (added_at, id). */
export async function listContent(db: Kysely<Database>, caseId: string, cursor: TimeCursor | undefined, limit: number) {
  let q = db.selectFrom('content').selectAll().where('case_id', '=', caseId).orderBy('added_at').orderBy('id').limit(limit + 1);
  if (cursor) {
    const t = new Date(cursor.t);
    q = q.where((eb) => eb.or([eb('added_at', '>', t), eb.and([eb('added_at', '=', t), eb('id', '>', cursor.id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      kind: r.kind,
      data: r.data,
      analysis: r.analysis ?? null,
      revision: r.revision,
      added_by: r.added_by,
      added_at: new Date(r.added_at).toISOString(),
      updated_at: r.updated_at ? new Date(r.updated_at).toISOString() : null,
    })),
    nextCursor: rows.length > limit && last ? encode({ t: new Date(last.added_at).toISOString(), id: last.id }) : null,
  };
}
