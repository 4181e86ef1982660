/**
 * A thin client over the case API for end-to-end tests (app.inject, real Postgres and Redis),
 * plus readers for the rows a command writes (journal, outbox, timers, tasks), so tests can
 * assert what was written and — just as much — what was not.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Actor } from './actors.js';
import type { startTestApp } from './platform.js';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

export interface TaskView {
  id: string;
  case_id: string;
  fragment_id: string;
  state: string;
  title: string;
  role: string | null;
  assignee_id: string | null;
  queue: string | null;
  event: string;
  status: string;
  claimed_by: string | null;
  due_at: string | null;
}

export interface FragmentView {
  id: string;
  definition: string;
  title: string;
  status: string;
  states: string[];
  accepted_events: string[];
  assignee_id: string | null;
  queue: string | null;
}

export interface GoalView {
  key: string;
  status: string;
  required: boolean;
  deadline_at: string | null;
  achieved_at: string | null;
  ad_hoc: boolean;
}

export interface PriorityView {
  value: string;
  score: number | null;
  computed: string | null;
  floor: string;
  factors: { name: string; value: number; weight: number; contribution: number; explanation: string }[];
  overridden_by: { user_id: string; priority: string; reason: string; at: string } | null;
  escalations_crossed: string[];
}

export interface CaseView {
  id: string;
  template: { key: string; version: number };
  title: string;
  status: string;
  priority: PriorityView;
  owner_id: string | null;
  queue: string | null;
  posts: Record<string, any>[];
  case_file: Record<string, any>;
  milestones: Record<string, string>;
  goals: GoalView[];
  fragments: FragmentView[];
  tasks: TaskView[];
  accepted_events: string[];
  version: number;
  closed_at: string | null;
  close_reason: string | null;
}

export interface TimelineEntry {
  version: number;
  idx: number;
  type: string;
  actor: { id: string; role: string };
  reason: string | null;
  data: any;
}

type Body = Record<string, unknown> | undefined;
type Headers = Record<string, string>;

export function caseApi(t: TestApp) {
  async function call(actor: Actor, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: Body, headers: Headers = {}) {
    return t.app.inject({
      method,
      url,
      headers: { ...actor.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
  }

  /** The response, after checking its status (the problem body is shown when it differs). */
  function expectStatus(res: LightMyRequestResponse, status: number) {
    if (res.statusCode !== status) {
      throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 2000)}`);
    }
    return res;
  }

  return {
    call,
    expectStatus,

    async open(actor: Actor, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', '/v1/cases', body), 201).json();
    },
    async get(actor: Actor, caseId: string): Promise<CaseView> {
      return expectStatus(await call(actor, 'GET', `/v1/cases/${caseId}`), 200).json();
    },
    async event(actor: Actor, caseId: string, body: Record<string, unknown>, status = 200): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/events`, body), status).json();
    },
    async addFragment(actor: Actor, caseId: string, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/fragments`, body), 201).json();
    },
    async adapt(actor: Actor, caseId: string, fragmentId: string, body: Record<string, unknown>, status = 200) {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/fragments/${fragmentId}/adapt`, body), status).json();
    },
    async addGoal(actor: Actor, caseId: string, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/goals`, body), 201).json();
    },
    async patchGoal(actor: Actor, caseId: string, key: string, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'PATCH', `/v1/cases/${caseId}/goals/${key}`, body), 200).json();
    },
    async addContent(actor: Actor, caseId: string, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/content`, body), 201).json();
    },
    async reassign(actor: Actor, caseId: string, body: Record<string, unknown>): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/reassign`, body), 200).json();
    },
    async close(actor: Actor, caseId: string, body: Record<string, unknown> = {}): Promise<CaseView> {
      return expectStatus(await call(actor, 'POST', `/v1/cases/${caseId}/close`, body), 200).json();
    },
    async complete(actor: Actor, taskId: string, output: Record<string, unknown> = {}) {
      return expectStatus(await call(actor, 'POST', `/v1/tasks/${taskId}/complete`, { output }), 200).json();
    },
    async claim(actor: Actor, taskId: string) {
      return expectStatus(await call(actor, 'POST', `/v1/tasks/${taskId}/claim`), 200).json();
    },
    async reassignTask(actor: Actor, taskId: string, body: Record<string, unknown>) {
      return expectStatus(await call(actor, 'POST', `/v1/tasks/${taskId}/reassign`, body), 200).json();
    },
    /** Every journal entry of the case, through the paged timeline. */
    async timeline(actor: Actor, caseId: string): Promise<TimelineEntry[]> {
      const items: TimelineEntry[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page: { items: TimelineEntry[]; next_cursor: string | null } = expectStatus(
          await call(actor, 'GET', `/v1/cases/${caseId}/timeline?limit=100${query}`),
          200,
        ).json();
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return items;
    },
  };
}

/** Rows written for one case, read straight from Postgres. */
export function caseRows(t: TestApp) {
  const db = t.database.db;
  return {
    async version(caseId: string): Promise<number | undefined> {
      const row = await db.selectFrom('cases').select('version').where('id', '=', caseId).executeTakeFirst();
      return row?.version;
    },
    async journal(caseId: string) {
      return db.selectFrom('journal').selectAll().where('case_id', '=', caseId).orderBy('version').orderBy('idx').execute();
    },
    async outbox(caseId: string) {
      return db.selectFrom('outbox').select(['id', 'type', 'data', 'status']).where('case_id', '=', caseId).orderBy('seq').execute();
    },
    async outboxTypes(caseId: string): Promise<string[]> {
      return (await this.outbox(caseId)).map((r) => r.type);
    },
    async timers(caseId: string) {
      return db
        .selectFrom('timers')
        .select(['id', 'kind', 'fragment_id', 'goal_key', 'status', 'due_at', 'event'])
        .where('case_id', '=', caseId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
    },
    async tasks(caseId: string) {
      return db.selectFrom('tasks').select(['id', 'fragment_id', 'title', 'status', 'assignee_id', 'queue']).where('case_id', '=', caseId).execute();
    },
    /** Counts that a refused command must leave untouched. */
    async snapshot(caseId: string) {
      const count = async (table: 'journal' | 'outbox' | 'timers' | 'tasks' | 'content') =>
        Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('case_id', '=', caseId).executeTakeFirstOrThrow()).n);
      const pendingTimers = Number(
        (await db.selectFrom('timers').select((eb) => eb.fn.countAll().as('n')).where('case_id', '=', caseId).where('status', '=', 'pending').executeTakeFirstOrThrow()).n,
      );
      const state = await db.selectFrom('cases').select(['version', 'state']).where('id', '=', caseId).executeTakeFirst();
      return {
        version: state?.version,
        journal: await count('journal'),
        outbox: await count('outbox'),
        timers: await count('timers'),
        pendingTimers,
        tasks: await count('tasks'),
        content: await count('content'),
        state: state?.state,
      };
    },
  };
}

/** The one fragment instance of a definition key (`public-reply`), active or not. */
export function fragmentOf(view: CaseView, key: string): FragmentView {
  const found = view.fragments.filter((f) => f.definition.startsWith(`${key}@`));
  expect(found, `fragments of ${key} in ${view.fragments.map((f) => f.definition).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

/** The open task of a fragment in a state. */
export function taskOf(view: CaseView, fragmentId: string, state?: string): TaskView {
  const found = view.tasks.filter((t) => t.fragment_id === fragmentId && (state === undefined || t.state === state));
  expect(found, `open tasks of ${fragmentId}${state ? ` in ${state}` : ''}: ${JSON.stringify(view.tasks.map((t) => [t.fragment_id, t.state]))}`).toHaveLength(1);
  return found[0]!;
}

/** Journal entries of the versions after `version`. */
export function entriesAfter(timeline: TimelineEntry[], version: number): TimelineEntry[] {
  return timeline.filter((e) => e.version > version);
}

/** The answer is problem+json with this status and stable code; returns the problem body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode, res.body.slice(0, 500)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = res.json();
  expect(problem).toMatchObject({ status, code, type: expect.stringContaining('https://tessera.dev/problems/') });
  expect(problem.detail).toEqual(expect.any(String));
  return problem;
}
