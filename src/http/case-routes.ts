/**
 * /v1/cases: open, list, read, and every command on a case. A route validates, authorises,
 * builds a command and replies; the command runner does the rest in one transaction.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Assignment as DomainAssignment, CaseState, Command } from '../cases/types.js';
import type { CommandRequest, CommandSuccess } from '../commands/run-command.js';
import type { Core } from '../core.js';
import { TesseraError } from '../errors.js';
import {
  isJournalCursor,
  isTimeCursor,
  listCases,
  listContent,
  listContentRevisions,
  readTimeline,
} from '../persistence/case-queries.js';
import { loadCase } from '../persistence/case-store.js';
import { loadCustomer, valuePercentiles } from '../persistence/customer-store.js';
import { caseCustomerSummary } from './customer-view.js';
import type { CustomerState } from '../customers/types.js';
import type { Database } from '../persistence/schema.js';
import type { Kysely } from 'kysely';
import { assertCanFeedCase, assertCanSeeCase, assertMayReassignFragment, assertOwnerOrSupervisor, listViewer } from './access.js';
import { withHandoffInput } from './handoff-enrich.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, readCursor } from './paging.js';
import { caseSummaryView, caseView, type AcceptedEvents } from './case-view.js';
import { whatIf } from '../commands/what-if.js';
import { WhatIfView } from './what-if-view.js';
import { expectedVersionOf, etag, idempotencyOf, sendCommandResponse } from './command-request.js';
import { goalClocks } from './goal-clock-view.js';
import {
  AddContentBody,
  AddFragmentBody,
  AdaptFragmentBody,
  AddGoalBody,
  CaseListQuery,
  CaseParams,
  CaseSummaryView,
  CaseView,
  CaseWithContentView,
  CloseBody,
  ContentParams,
  ContentQuery,
  ContentRevisionView,
  PriorityOverrideBody,
  PriorityReleaseBody,
  FragmentParams,
  GoalParams,
  HoldBody,
  OpenCaseBody,
  PageOf,
  ReassignBody,
  ResumeBody,
  SendEventBody,
  TimelineEntryView,
  TimelineQuery,
  UpdateGoalBody,
  type AssignmentBody,
  type OpenCaseBodyType,
} from './schemas.js';

export interface CaseRoutesOptions {
  core: Core;
  db: Kysely<Database>;
  /** Accepted events of the case's fragments; guards that read `customer` need the case's customer. */
  describe: (state: CaseState, customer?: CustomerState) => AcceptedEvents;
}

export function toAssignment(body: AssignmentBody): DomainAssignment {
  return { ...(body.user_id ? { userId: body.user_id } : {}), ...(body.queue ? { queue: body.queue } : {}) };
}

const WORKERS = ['agent', 'supervisor', 'admin'] as const;
const FEEDERS = ['agent', 'supervisor', 'admin', 'integrator'] as const;
const PLANNERS = ['supervisor', 'admin'] as const;

const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };
const caseReply = { 200: CaseView, 201: CaseView, '4xx': problem };
/** Adaptation commands: the case, or with `dry_run: true` what the command would do (200). */
const adaptReply = { 200: Type.Union([WhatIfView, CaseView]), 201: CaseView, '4xx': problem };

export const caseRoutes: FastifyPluginAsyncTypebox<CaseRoutesOptions> = async (app, { core, db, describe }) => {
  const view = (c: CaseState, customer?: CustomerState) => caseView(c, describe(c, customer));

  /** Runs a command on an existing case and replies with the case as it is after it. */
  async function command(
    request: FastifyRequest,
    reply: FastifyReply,
    caseId: string,
    cmd: Command,
    options: {
      authorize?: CommandRequest['authorize'];
      enrich?: CommandRequest['enrich'];
      statusCode?: number;
      withResult?: boolean;
      /** Fields answered beside the case's own (e.g. the content item added). */
      extra?: (decision: CommandSuccess['decision']) => Record<string, unknown>;
      /** What-if: decide, answer what it would do, write nothing (commands/what-if.ts). */
      dryRun?: boolean;
    } = {},
  ) {
    if (options.dryRun === true) {
      const w = await whatIf({ db, engine: core.engine, catalog: core.catalog, now: core.now }, {
        caseId,
        command: cmd,
        actor: { id: request.principal.userId, role: request.principal.role },
        authorize: options.authorize ?? ((state) => assertCanSeeCase(request.principal, state)),
        ...optional('enrich', options.enrich),
        ...optional('expectedVersion', expectedVersionOf(request)),
      });
      reply.header('etag', etag(w.before.version));
      return reply.code(200).send({
        dry_run: true,
        case: view(w.before, w.customer),
        plan: w.plan,
        result: snakeKeys(w.result),
        goals_projection: w.goals_projection,
        capacity: w.capacity,
      });
    }
    const response = await core.runner.run({
      caseId,
      command: cmd,
      actor: { id: request.principal.userId, role: request.principal.role },
      authorize: options.authorize ?? ((state) => assertCanSeeCase(request.principal, state)),
      ...optional('enrich', options.enrich),
      ...optional('expectedVersion', expectedVersionOf(request)),
      ...optional('idempotency', idempotencyOf(request)),
      respond: ({ case: c, decision, customer }) => ({
        statusCode: options.statusCode ?? 200,
        body: options.withResult
          ? { case: view(c, customer), result: snakeKeys(decision.result ?? {}) }
          : { ...view(c, customer), ...options.extra?.(decision) },
      }),
    });
    return sendCommandResponse(reply, response);
  }

  app.post(
    '/v1/cases',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Open a case from a template', body: OpenCaseBody, response: caseReply },
    },
    async (request, reply) => {
      const b = request.body;
      const ownerId = b.owner_id ?? (request.principal.role === 'agent' ? request.principal.userId : undefined);
      if (request.principal.role === 'agent' && ownerId !== request.principal.userId) {
        throw new TesseraError('FORBIDDEN', 'Agents open cases they own; leave owner_id out or ask a supervisor');
      }
      const response = await core.runner.run({
        template: { key: b.template, ...(b.template_version ? { version: b.template_version } : {}) },
        command: {
          type: 'case.open',
          input: {
            title: b.title,
            ...optional('priority', b.priority),
            ...optional('ownerId', ownerId),
            ...optional('queue', b.queue),
            ...optional('customer', b.customer && caseCustomerOf(b.customer)),
            ...optional('externalRefs', b.external_refs),
            ...optional('caseFile', b.case_file),
          },
        },
        actor: { id: request.principal.userId, role: request.principal.role },
        ...optional('idempotency', idempotencyOf(request)),
        respond: ({ case: c, customer }) => ({ statusCode: 201, body: view(c, customer) }),
      });
      reply.header('location', `/v1/cases/${(response.body as { id: string }).id}`);
      return sendCommandResponse(reply, response);
    },
  );

  app.get(
    '/v1/cases',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'List cases (newest first, cursor paging), or look up some by id (?ids=a,b)', querystring: CaseListQuery, response: { 200: PageOf(CaseSummaryView) } },
    },
    async (request) => {
      const q = request.query;
      const cursor = readCursor(q.cursor, isTimeCursor);
      const ids = q.ids === undefined ? undefined : [...new Set(q.ids.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
      if (ids !== undefined && ids.length > MAX_PAGE_SIZE) {
        throw new TesseraError('VALIDATION_FAILED', `querystring /ids names ${ids.length} ids; look up at most ${MAX_PAGE_SIZE} at once`, {
          errors: [{ pointer: '/ids', in: 'querystring', detail: `at most ${MAX_PAGE_SIZE} ids` }],
        });
      }
      const page = await listCases(
        db,
        {
          ...optional('status', q.status),
          ...optional('ownerId', q.owner_id),
          ...optional('queue', q.queue),
          ...optional('template', q.template),
          ...optional('customerId', q.customer_id),
          ...optional('priority', q.priority),
          ...optional('visibleTo', listViewer(request.principal)),
          ...optional('ids', ids),
        },
        cursor,
        // A lookup answers every id it found on one page, whatever `limit` says.
        ids ? MAX_PAGE_SIZE : (q.limit ?? DEFAULT_PAGE_SIZE),
      );
      return { items: page.items.map(caseSummaryView), next_cursor: page.nextCursor };
    },
  );

  async function readableCase(request: FastifyRequest, id: string): Promise<CaseState> {
    const state = await loadCase(db, id);
    if (!state) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${id}`);
    assertCanSeeCase(request.principal, state);
    return state;
  }

  app.get(
    '/v1/cases/:id',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['cases'],
        summary: "A case: goals, fragments (states, accepted events), open tasks, and its customer's summary",
        params: CaseParams,
        response: { 200: CaseView },
      },
    },
    async (request, reply) => {
      const state = await readableCase(request, request.params.id);
      reply.header('etag', etag(state.version));
      const customerId = state.customer?.id;
      const [customer, percentiles] = customerId
        ? await Promise.all([loadCustomer(db, customerId), valuePercentiles(db, customerId)])
        : [undefined, null];
      return {
        ...view(state, customer),
        customer_summary: caseCustomerSummary(customer, percentiles),
        goal_clocks: goalClocks(state, core.catalog.template(state.template.key, state.template.version), core.now()),
      };
    },
  );

  app.get(
    '/v1/cases/:id/timeline',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'The journal: every command and effect, with actor and reason', params: CaseParams, querystring: TimelineQuery, response: { 200: PageOf(TimelineEntryView) } },
    },
    async (request) => {
      const cursor = readCursor(request.query.cursor, isJournalCursor);
      await readableCase(request, request.params.id);
      const page = await readTimeline(db, request.params.id, cursor, request.query.limit ?? DEFAULT_PAGE_SIZE);
      return { items: page.items, next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/cases/:id/content',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Case content: notes, attachments, social posts, CRM profiles (oldest first, cursor paging)', params: CaseParams, querystring: ContentQuery },
    },
    async (request) => {
      const cursor = readCursor(request.query.cursor, isTimeCursor);
      await readableCase(request, request.params.id);
      const page = await listContent(db, request.params.id, cursor, request.query.limit ?? DEFAULT_PAGE_SIZE);
      return { items: page.items, next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/cases/:id/events',
    {
      config: { roles: FEEDERS },
      schema: { tags: ['cases'], summary: 'Send an event to the fragments that accept it (409 lists what the case accepts)', params: CaseParams, body: SendEventBody, response: caseReply },
    },
    async (request, reply) => {
      const b = request.body;
      return command(request, reply, request.params.id, {
        type: 'event.send',
        event: { type: b.type, ...optional('data', b.data) },
        ...optional('fragmentId', b.fragment_id),
      }, { authorize: (state) => assertCanFeedCase(request.principal, state) });
    },
  );

  app.post(
    '/v1/cases/:id/fragments',
    {
      config: { roles: WORKERS },
      schema: { tags: ['adaptation'], summary: 'Assemble: add a library fragment, an inline definition or a checklist (dry_run: what-if)', params: CaseParams, body: AddFragmentBody, response: adaptReply },
    },
    async (request, reply) => {
      const b = request.body;
      const sources = [b.ref, b.definition, b.checklist].filter((s) => s !== undefined);
      if (sources.length !== 1) {
        throw new TesseraError('VALIDATION_FAILED', 'Give exactly one of ref (library key@version), definition (inline) or checklist', {
          errors: [{ pointer: '/', in: 'body', detail: 'needs exactly one of ref, definition, checklist' }],
        });
      }
      const source: Extract<Command, { type: 'fragment.add' }>['source'] = b.ref
        ? { kind: 'library', ref: b.ref }
        : b.checklist
          ? { kind: 'checklist', title: b.checklist.title, steps: b.checklist.steps }
          : { kind: 'inline', definition: b.definition as never };
      return command(request, reply, request.params.id, {
        type: 'fragment.add',
        source,
        ...optional('assignment', b.assignment ? toAssignment(b.assignment) : undefined),
        ...optional('reason', b.reason),
      }, { statusCode: 201, dryRun: b.dry_run === true });
    },
  );

  app.post(
    '/v1/cases/:id/fragments/:fid/adapt',
    {
      config: { roles: WORKERS },
      schema: { tags: ['adaptation'], summary: 'Adapt a running fragment: migrate | jump | cancel | reassign (dry_run: what-if, nothing written)', params: FragmentParams, body: AdaptFragmentBody },
    },
    async (request, reply) => {
      const b = request.body;
      const { id, fid } = request.params;
      const planner = { authorize: (state: CaseState) => assertOwnerOrSupervisor(request.principal, state), dryRun: b.dry_run === true };
      switch (b.action) {
        case 'migrate':
          return command(request, reply, id, {
            type: 'fragment.migrate',
            fragmentId: fid,
            to: b.to,
            stateMapping: b.state_mapping ?? {},
            reason: b.reason,
          }, { ...planner, withResult: true });
        case 'jump':
          return command(request, reply, id, { type: 'fragment.jump', fragmentId: fid, state: b.state, reason: b.reason }, planner);
        case 'cancel':
          return command(request, reply, id, { type: 'fragment.cancel', fragmentId: fid, reason: b.reason }, planner);
        case 'reassign':
          return command(request, reply, id, {
            type: 'fragment.reassign',
            fragmentId: fid,
            assignment: toAssignment(b.assignment),
            ...optional('reason', b.reason),
          }, { authorize: (state) => assertMayReassignFragment(request.principal, state, fid), dryRun: b.dry_run === true });
      }
    },
  );

  app.post(
    '/v1/cases/:id/goals',
    {
      config: { roles: WORKERS },
      schema: { tags: ['adaptation'], summary: 'Add a goal (dry_run: what-if)', params: CaseParams, body: AddGoalBody, response: adaptReply },
    },
    async (request, reply) => {
      const b = request.body;
      return command(request, reply, request.params.id, {
        type: 'goal.add',
        goal: { key: b.key, title: b.title, condition: b.condition, required: b.required ?? false, ...optional('deadlineAt', b.deadline_at) },
        ...optional('reason', b.reason),
      }, { statusCode: 201, dryRun: b.dry_run === true });
    },
  );

  app.patch(
    '/v1/cases/:id/goals/:key',
    {
      config: { roles: PLANNERS },
      schema: { tags: ['adaptation'], summary: 'Move a deadline or retitle a goal (reason required; dry_run: what-if)', params: GoalParams, body: UpdateGoalBody, response: adaptReply },
    },
    async (request, reply) => {
      const b = request.body;
      return command(request, reply, request.params.id, {
        type: 'goal.update',
        goalKey: request.params.key,
        ...(b.deadline_at !== undefined ? { deadlineAt: b.deadline_at } : {}),
        ...optional('title', b.title),
        reason: b.reason,
      }, { dryRun: b.dry_run === true });
    },
  );

  app.post(
    '/v1/cases/:id/content',
    {
      config: { roles: FEEDERS },
      schema: {
        tags: ['cases'],
        summary: 'Attach content: note | attachment | social_post | crm_profile; answers the case with the new item under `content`',
        params: CaseParams,
        body: AddContentBody,
        response: { 201: CaseWithContentView, '4xx': problem },
      },
    },
    async (request, reply) =>
      command(request, reply, request.params.id, { type: 'content.add', kind: request.body.kind, data: request.body.data }, {
        statusCode: 201,
        authorize: (state) => assertCanFeedCase(request.principal, state),
        extra: (decision) => {
          const effect = decision.effects.find((e) => e.type === 'content.add' || e.type === 'content.update');
          if (effect?.type !== 'content.add' && effect?.type !== 'content.update') return {};
          const item = effect.item;
          return {
            content: {
              id: item.id,
              kind: item.kind,
              added_by: item.addedBy,
              added_at: item.addedAt,
              updated: effect.type === 'content.update',
              revision: item.revision ?? null,
              analysis: item.analysis ?? null,
            },
          };
        },
      }),
  );

  app.get(
    '/v1/cases/:id/content/:content_id/revisions',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['cases'],
        summary: "A content item's versions, oldest first (a post sent again with the same channel and post id / url is a new revision)",
        params: ContentParams,
        response: { 200: Type.Object({ items: Type.Array(ContentRevisionView) }), '4xx': problem },
      },
    },
    async (request) => {
      await readableCase(request, request.params.id);
      const items = await listContentRevisions(db, request.params.id, request.params.content_id);
      if (!items) throw new TesseraError('NOT_FOUND', `Case ${request.params.id} has no content item ${request.params.content_id}; GET /v1/cases/${request.params.id}/content lists them`);
      return { items };
    },
  );

  app.post(
    '/v1/cases/:id/priority',
    {
      config: { roles: PLANNERS },
      schema: {
        tags: ['cases'],
        summary: "Override the case priority (supervisor); it holds until lifted with DELETE. The score and its factors keep being computed",
        params: CaseParams,
        body: PriorityOverrideBody,
        response: caseReply,
      },
    },
    async (request, reply) =>
      command(request, reply, request.params.id, { type: 'priority.override', priority: request.body.priority, reason: request.body.reason }),
  );

  app.delete(
    '/v1/cases/:id/priority',
    {
      config: { roles: PLANNERS },
      schema: {
        tags: ['cases'],
        summary: 'Lift the priority override: the computed priority applies again (409 PRIORITY_NOT_OVERRIDDEN when there is none)',
        params: CaseParams,
        body: PriorityReleaseBody,
        response: caseReply,
      },
    },
    async (request, reply) =>
      command(request, reply, request.params.id, { type: 'priority.release', ...optional('reason', request.body?.reason) }),
  );

  app.post(
    '/v1/cases/:id/reassign',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Reassign the case to a person and/or a queue (dry_run: what-if)', params: CaseParams, body: ReassignBody, response: adaptReply },
    },
    async (request, reply) => {
      const b = request.body;
      const reassign: Command = {
        type: 'case.reassign',
        assignment: { ...optional('userId', b.owner_id), ...optional('queue', b.queue) },
        ...optional('reason', b.reason),
      };
      return command(request, reply, request.params.id, reassign, {
        authorize: (state) => assertOwnerOrSupervisor(request.principal, state),
        enrich: withHandoffInput(reassign),
        dryRun: b.dry_run === true,
      });
    },
  );

  app.post(
    '/v1/cases/:id/hold',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Put the case on hold (waiting on the customer): goal clocks stop, where the template allows it', params: CaseParams, body: HoldBody, response: caseReply },
    },
    async (request, reply) =>
      command(request, reply, request.params.id, { type: 'case.hold', reason: request.body.reason }, {
        authorize: (state) => assertOwnerOrSupervisor(request.principal, state),
      }),
  );

  app.post(
    '/v1/cases/:id/resume',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Resume a held case: open goal deadlines move by the time on hold', params: CaseParams, body: ResumeBody, response: caseReply },
    },
    async (request, reply) =>
      command(request, reply, request.params.id, { type: 'case.resume', ...optional('reason', request.body?.reason) }, {
        authorize: (state) => assertOwnerOrSupervisor(request.principal, state),
      }),
  );

  app.post(
    '/v1/cases/:id/close',
    {
      config: { roles: WORKERS },
      schema: { tags: ['cases'], summary: 'Close or cancel the case (a reason is required while required goals are unmet)', params: CaseParams, body: CloseBody, response: caseReply },
    },
    async (request, reply) => {
      const b = request.body ?? {};
      return command(request, reply, request.params.id, {
        type: 'case.close',
        ...optional('reason', b.reason),
        ...optional('status', b.status),
      }, { authorize: (state) => assertOwnerOrSupervisor(request.principal, state) });
    },
  );
};

/** `{ [key]: value }` when value is defined, else `{}` (keeps optional fields truly absent). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Result keys on the wire are snake_case like every other field (`dryRun` -> `dry_run`,
 * `stateKey` -> `state_key`), at every depth: a command result is engine-made (no user keys).
 */
export function snakeKeys(value: unknown): any {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v)]));
}

/** The open body's `customer` (snake_case) as the case keeps it. */
function caseCustomerOf(c: NonNullable<OpenCaseBodyType['customer']>): NonNullable<CaseState['customer']> {
  const { external_ids: externalIds, ...rest } = c;
  return { ...rest, ...(externalIds ? { externalIds } : {}) };
}
