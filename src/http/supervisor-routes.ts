/**
 * Supervisor views: open goals needing attention, deadlines coming up, SLA attainment. Read-only
 * routes over the goal views projection (persistence/goal-queries.ts); supervisors and admins.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { TesseraError } from '../errors.js';
import { decodeCursor } from '../persistence/case-queries.js';
import { isGoalCursor, listOpenGoals, slaAttainment, type AttainmentCounts, type GoalFilters, type GoalItem } from '../persistence/goal-queries.js';
import type { Database } from '../persistence/schema.js';
import {
  AttainmentQuery,
  AttainmentReport,
  DueGoalsQuery,
  GoalListQuery,
  MAX_REPORT_DAYS,
  OpenGoalView,
} from './supervisor-schemas.js';
import { PageOf } from './schemas.js';

const SUPERVISORS = ['supervisor', 'admin'] as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

/** A 400 naming the query parameter and the fix, shaped like the schema validator's. */
function badQuery(name: string, detail: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', `querystring /${name} ${detail}`, { errors: [{ pointer: `/${name}`, in: 'querystring', detail }] });
}

function goalView(g: GoalItem) {
  return {
    case_id: g.caseId,
    case_title: g.caseTitle,
    template: g.template,
    queue: g.queue,
    owner_id: g.ownerId,
    priority: g.priority,
    case_status: g.caseStatus,
    goal_key: g.goalKey,
    goal_title: g.goalTitle,
    required: g.required,
    ad_hoc: g.adHoc,
    status: g.status,
    sla: g.sla,
    deadline_at: g.deadlineAt,
    at_risk_at: g.atRiskAt,
    breached_at: g.breachedAt,
    opened_at: g.openedAt,
    updated_at: g.updatedAt,
  };
}

function countsView(c: AttainmentCounts) {
  return {
    due: c.due,
    achieved_on_time: c.achievedOnTime,
    achieved_late: c.achievedLate,
    breached_open: c.breachedOpen,
    pending: c.pending,
    attainment: c.attainment,
  };
}

interface FilterQuery {
  sla?: string[];
  status?: string[];
  template?: string;
  queue?: string;
  owner?: string;
  cursor?: string;
}

function filtersOf(q: FilterQuery): GoalFilters {
  return {
    ...(q.sla ? { sla: q.sla } : {}),
    ...(q.status ? { caseStatus: q.status } : {}),
    ...(q.template ? { template: q.template } : {}),
    ...(q.queue ? { queue: q.queue } : {}),
    ...(q.owner ? { ownerId: q.owner } : {}),
  };
}

function cursorOf(q: FilterQuery) {
  const cursor = decodeCursor(q.cursor, isGoalCursor);
  if (cursor === 'invalid') throw badQuery('cursor', 'is not one this API returned; start again without it');
  return cursor;
}

export const supervisorRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database>; now: () => Date }> = async (app, { db, now }) => {
  app.get(
    '/v1/goals',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: 'Open goals with a deadline on open or held cases, soonest deadline first (overdue first)',
        querystring: GoalListQuery,
        response: { 200: PageOf(OpenGoalView), '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listOpenGoals(db, filtersOf(q), cursorOf(q), q.limit ?? 25);
      return { items: page.items.map(goalView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/goals/due',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: 'Open goals whose deadline falls within the next N hours, soonest first',
        querystring: DueGoalsQuery,
        response: { 200: PageOf(OpenGoalView), '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const from = now();
      const to = new Date(from.getTime() + q.within_hours * HOUR_MS);
      const page = await listOpenGoals(db, { ...filtersOf(q), deadlineFrom: from, deadlineTo: to }, cursorOf(q), q.limit ?? 25);
      return { items: page.items.map(goalView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/reports/sla-attainment',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: 'SLA attainment (share of goals achieved on time) per template or queue over a period',
        querystring: AttainmentQuery,
        response: { 200: AttainmentReport, '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const from = new Date(q.from);
      const to = new Date(q.to);
      if (to.getTime() <= from.getTime()) throw badQuery('to', `must be after from (${from.toISOString()})`);
      if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * DAY_MS) {
        throw badQuery('to', `must be at most ${MAX_REPORT_DAYS} days after from; ask for a shorter period`);
      }
      const groupBy = q.group_by ?? 'template';
      const at = now();
      const report = await slaAttainment(db, {
        from,
        to,
        now: at,
        groupBy,
        ...(q.template ? { template: q.template } : {}),
        ...(q.queue ? { queue: q.queue } : {}),
      });
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        group_by: groupBy,
        generated_at: at.toISOString(),
        groups: report.groups.map((g) => ({ key: g.key, ...countsView(g) })),
        total: countsView(report.total),
      };
    },
  );
};
