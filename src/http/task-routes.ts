/** /v1/tasks: the worklist, and claim / complete / reassign (each a command on the task's case). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { CaseState, Command } from '../cases/types.js';
import type { Core } from '../core.js';
import { TesseraError } from '../errors.js';
import { findTask, isTimeCursor, listTasks } from '../persistence/case-queries.js';
import type { Database } from '../persistence/schema.js';
import { assertCanWorkTask, listViewer } from './access.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import { toAssignment, optional } from './case-routes.js';
import { snakeKeys, taskView } from './case-view.js';
import { expectedVersionOf, idempotencyOf, sendCommandResponse } from './command-request.js';
import { AssignTaskBody, CompleteTaskBody, EmptyBody, NextWorkView, PageOf, ReassignTaskBody, TaskListQuery, TaskParams, TaskView } from './schemas.js';
import { withHandoffInput } from './handoff-enrich.js';
import { whatIf } from '../commands/what-if.js';

/** The task just assigned, the case version and the brief built for the assignee. */
function assignedView(c: CaseState, taskId: string) {
  const task = c.tasks.find((t) => t.id === taskId);
  return {
    task: task ? taskView(task, c.id) : null,
    reason: null,
    case_version: c.version,
    handoff_brief: c.handoffBrief ? (snakeKeys(c.handoffBrief) as never) : null,
  };
}

const WORKERS = ['agent', 'supervisor', 'admin'] as const;

export const taskRoutes: FastifyPluginAsyncTypebox<{ core: Core; db: Kysely<Database> }> = async (app, { core, db }) => {
  app.get(
    '/v1/tasks',
    {
      config: { roles: WORKERS },
      schema: { tags: ['tasks'], summary: 'Worklist by assignee, queue or case; soonest due first', querystring: TaskListQuery, response: { 200: PageOf(TaskView) } },
    },
    async (request) => {
      const q = request.query;
      const cursor = readCursor(q.cursor, isTimeCursor);
      const viewer = listViewer(request.principal);
      if (viewer && q.assignee_id && q.assignee_id !== viewer.userId) {
        throw new TesseraError('FORBIDDEN', "Agents see their own tasks and their teams' queues; ask a supervisor for a colleague's worklist");
      }
      // An agent's worklist without filters: their tasks and their teams' queues. Whatever the
      // filters, an agent only ever lists tasks of cases they may see.
      const unfiltered = !q.assignee_id && !q.queue && !q.case_id;
      const page = await listTasks(
        db,
        {
          ...optional('assigneeId', q.assignee_id),
          ...optional('queue', q.queue),
          ...optional('caseId', q.case_id),
          ...optional('status', q.status),
          ...optional('mineOrTeams', viewer && unfiltered ? viewer : undefined),
          ...optional('visibleTo', viewer),
        },
        cursor,
        q.limit ?? DEFAULT_PAGE_SIZE,
      );
      return { items: page.items.map((t) => taskView(t, t.caseId)), next_cursor: page.nextCursor };
    },
  );

  async function taskCommand(request: FastifyRequest, reply: FastifyReply, build: (taskId: string) => Command, handsOver = false) {
    const taskId = (request.params as { id: string }).id;
    const task = await findTask(db, taskId);
    if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task has id ${taskId}`);
    const response = await core.runner.run({
      caseId: task.caseId,
      command: build(taskId),
      actor: { id: request.principal.userId, role: request.principal.role },
      authorize: (state: CaseState) => assertCanWorkTask(request.principal, state, state.tasks.find((t) => t.id === taskId) ?? task),
      ...(handsOver ? { enrich: (trx: Transaction<Database>, state: CaseState) => withHandoffInput(build(taskId))(trx, state) } : {}),
      ...optional('expectedVersion', expectedVersionOf(request)),
      ...optional('idempotency', idempotencyOf(request)),
      respond: ({ case: c }) => {
        const open = c.tasks.find((t) => t.id === taskId);
        return { statusCode: 200, body: { task: open ? taskView(open, c.id) : { id: taskId, case_id: c.id, status: 'closed' }, case_version: c.version } };
      },
    });
    return sendCommandResponse(reply, response);
  }

  app.post(
    '/v1/tasks/:id/claim',
    { config: { roles: WORKERS }, schema: { tags: ['tasks'], summary: 'Claim a task (take it from its queue)', params: TaskParams, body: EmptyBody } },
    async (request, reply) => taskCommand(request, reply, (taskId) => ({ type: 'task.claim', taskId }), true),
  );

  app.post(
    '/v1/tasks/:id/complete',
    {
      config: { roles: WORKERS },
      schema: { tags: ['tasks'], summary: "Complete a task; output is validated against the task's form", params: TaskParams, body: CompleteTaskBody },
    },
    async (request, reply) =>
      taskCommand(request, reply, (taskId) => ({ type: 'task.complete', taskId, output: request.body?.output ?? {} })),
  );

  app.post(
    '/v1/tasks/:id/reassign',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: { tags: ['tasks'], summary: 'Reassign a task to a person or a queue (dry_run: what-if, nothing written)', params: TaskParams, body: ReassignTaskBody },
    },
    async (request, reply) => {
      const build = (taskId: string): Command => ({
        type: 'task.reassign',
        taskId,
        assignment: toAssignment(request.body.assignment),
        ...optional('reason', request.body.reason),
      });
      if (request.body.dry_run !== true) return taskCommand(request, reply, build, true);
      // What-if (commands/what-if.ts): what the reassignment would do, nothing written.
      const task = await findTask(db, request.params.id);
      if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task has id ${request.params.id}`);
      const w = await whatIf({ db, engine: core.engine, catalog: core.catalog, now: core.now }, {
        caseId: task.caseId,
        command: build(task.id),
        actor: { id: request.principal.userId, role: request.principal.role },
        authorize: (state: CaseState) => assertCanWorkTask(request.principal, state, state.tasks.find((t) => t.id === task.id) ?? task),
        enrich: (trx: Transaction<Database>, state: CaseState) => withHandoffInput(build(task.id))(trx, state),
        ...optional('expectedVersion', expectedVersionOf(request)),
      });
      return reply.code(200).send({ dry_run: true, case_version: w.before.version, plan: w.plan, result: snakeKeys(w.result), goals_projection: w.goals_projection, capacity: w.capacity });
    },
  );

  app.post(
    '/v1/tasks/next',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['tasks'],
        summary: 'Get next work: assigns you the best open task you may take (README "Routing order")',
        description:
          'Role, team (queue), skills and free capacity must fit, and your presence must be available. ' +
          'Order: priority, then time to breach, then age, then task id. Answers `task: null` with a `reason` when nothing fits.',
        body: EmptyBody,
        response: { 200: NextWorkView },
      },
    },
    async (request, reply) => {
      const response = await core.work.next({
        actor: { id: request.principal.userId, role: request.principal.role },
        ...optional('idempotency', idempotencyOf(request)),
        respond: ({ case: c }, taskId) => ({ statusCode: 200, body: assignedView(c, taskId) }),
        none: (reason) => ({ statusCode: 200, body: { task: null, reason, case_version: null, handoff_brief: null } }),
      });
      return sendCommandResponse(reply, response);
    },
  );

  app.post(
    '/v1/tasks/:id/assign',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        tags: ['tasks'],
        summary: "Push a task to a person, within their free capacity unless override_capacity gives a reason (journaled)",
        params: TaskParams,
        body: AssignTaskBody,
        response: { 200: NextWorkView },
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      const task = await findTask(db, taskId);
      if (!task) throw new TesseraError('TASK_NOT_FOUND', `No task has id ${taskId}`);
      const b = request.body;
      const response = await core.work.push({
        taskId,
        caseId: task.caseId,
        userId: b.user_id,
        actor: { id: request.principal.userId, role: request.principal.role },
        ...(b.override_capacity ? { override: { reason: b.override_capacity.reason } } : {}),
        ...optional('idempotency', idempotencyOf(request)),
        respond: ({ case: c }) => ({ statusCode: 200, body: assignedView(c, taskId) }),
      });
      return sendCommandResponse(reply, response);
    },
  );
};
