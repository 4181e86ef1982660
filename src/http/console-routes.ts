/**
 * What the supervisor console needs beyond the goal lists, the workload and the attainment
 * report, as public routes (anything the console does, an integrator can do):
 * - GET /v1/goals/summary: the SLA tiles (on track / at risk / breached, per queue, next breach);
 * - POST /v1/cases/bulk-reassign: many cases to a person and/or a queue, one command per case,
 *   each answered on its own (one refused case does not undo the others);
 * - GET /v1/alerts/reach: posts whose reach or virality crossed a template threshold recently.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { Command } from '../cases/types.js';
import type { Core } from '../core.js';
import { TesseraError } from '../errors.js';
import { hashRequest } from '../commands/run-command.js';
import type { Database } from '../persistence/schema.js';
import { readSlaTiles, type SlaCounts } from '../persistence/sla-tile-queries.js';
import { readReachAlerts } from '../persistence/reach-alert-queries.js';
import { assertOwnerOrSupervisor } from './access.js';
import { idempotencyOf } from './command-request.js';
import { withHandoffInput } from './handoff-enrich.js';

const SUPERVISORS = ['supervisor', 'admin'] as const;
export const BULK_MAX = 100;
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

const Counts = Type.Object({ on_track: Type.Integer(), at_risk: Type.Integer(), breached: Type.Integer() });

export const SlaTilesView = Type.Object(
  {
    as_of: Type.String(),
    on_track: Type.Integer(),
    at_risk: Type.Integer(),
    breached: Type.Integer(),
    by_queue: Type.Record(Type.String(), Counts, { description: "Per case queue; '' for cases without a queue" }),
    next_breach_at: Nullable(Type.String({ description: 'The soonest deadline of an open goal not yet breached' })),
  },
  { description: 'Open goals with a deadline on open or held cases (the set GET /v1/goals lists), by SLA state' },
);

const BulkReassignBody = Type.Object(
  {
    case_ids: Type.Array(Name, { minItems: 1, maxItems: BULK_MAX, uniqueItems: true, description: `1 to ${BULK_MAX} case ids` }),
    owner_id: Type.Optional(Name),
    queue: Type.Optional(Name),
    reason: Type.String({ minLength: 1, maxLength: 2000, description: 'Why (journaled on every case)' }),
  },
  { additionalProperties: false },
);

const BulkItem = Type.Object({
  case_id: Type.String(),
  status: Type.Integer({ description: 'What POST /v1/cases/{id}/reassign would have answered for this case' }),
  version: Nullable(Type.Integer({ description: 'The case version after the reassignment' })),
  problem: Nullable(
    Type.Object({ type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() }, { description: 'Why this case was not reassigned' }),
  ),
});

const BulkReassignView = Type.Object({
  reassigned: Type.Integer(),
  failed: Type.Integer(),
  items: Type.Array(BulkItem, { description: 'One per case id, in request order' }),
});

const AlertQuery = Type.Object(
  {
    since_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720, default: 24, description: 'Crossings within the last N hours (1 to 720)' })),
    queue: Type.Optional(Name),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 25 })),
  },
  { additionalProperties: false },
);

const ReachAlertView = Type.Object({
  case_id: Type.String(),
  case_title: Type.String(),
  queue: Nullable(Type.String()),
  priority: Type.String(),
  case_status: Type.String(),
  metric: Type.String({ description: 'reach (widest post) or virality (engagements per hour of the fastest post)' }),
  value: Type.Number(),
  limit: Type.Number({ description: 'The template threshold crossed' }),
  threshold: Type.String(),
  content_id: Nullable(Type.String()),
  at: Type.String(),
});

const countsView = (c: SlaCounts) => ({ on_track: c.onTrack, at_risk: c.atRisk, breached: c.breached });

export const consoleRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database>; core: Core }> = async (app, { db, core }) => {
  app.get(
    '/v1/goals/summary',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: 'SLA tiles: open goals on track, at risk and breached, overall and per queue (the live stream sends the same counts as `tiles`)',
        querystring: Type.Object({ template: Type.Optional(Name), queue: Type.Optional(Name) }, { additionalProperties: false }),
        response: { 200: SlaTilesView, '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const tiles = await readSlaTiles(db, { ...(q.template ? { template: q.template } : {}), ...(q.queue ? { queue: q.queue } : {}) });
      return {
        as_of: core.now().toISOString(),
        ...countsView(tiles),
        by_queue: Object.fromEntries(Object.entries(tiles.byQueue).map(([k, v]) => [k, countsView(v)])),
        next_breach_at: tiles.nextBreachAt,
      };
    },
  );

  app.post(
    '/v1/cases/bulk-reassign',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: 'Reassign many cases to a person and/or a queue (reason required); each case is its own command and answer',
        description:
          'Answers 200 with one item per case: `status` 200 and the new `version`, or the problem that case met (404 unknown case, ' +
          '409, 422 ...). An Idempotency-Key applies per case (`<key>/<case id>`), so retrying the same request reassigns nothing twice.',
        body: BulkReassignBody,
        response: { 200: BulkReassignView, '4xx': problem },
      },
    },
    async (request) => {
      const b = request.body;
      if (b.owner_id === undefined && b.queue === undefined) {
        throw new TesseraError('VALIDATION_FAILED', 'body must name owner_id and/or queue: whom or where the cases go to', {
          errors: [{ pointer: '/owner_id', detail: 'give owner_id and/or queue' }],
        });
      }
      const idempotency = idempotencyOf(request);
      const items = [];
      // One after the other: each locks its own case; a bulk of 100 must not take 100 connections.
      for (const caseId of b.case_ids) {
        const reassign: Command = {
          type: 'case.reassign',
          assignment: { ...(b.owner_id ? { userId: b.owner_id } : {}), ...(b.queue ? { queue: b.queue } : {}) },
          reason: b.reason,
        };
        try {
          const response = await core.runner.run({
            caseId,
            command: reassign,
            actor: { id: request.principal.userId, role: request.principal.role },
            authorize: (state) => assertOwnerOrSupervisor(request.principal, state),
            enrich: withHandoffInput(reassign),
            ...(idempotency
              ? {
                  idempotency: {
                    owner: idempotency.owner,
                    key: `${idempotency.key}/${caseId}`,
                    requestHash: hashRequest({ method: 'POST', url: `/v1/cases/${caseId}/reassign`, body: { owner_id: b.owner_id ?? null, queue: b.queue ?? null, reason: b.reason } }),
                  },
                }
              : {}),
            respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }),
          });
          items.push({ case_id: caseId, status: response.statusCode, version: (response.body as { version: number }).version, problem: null });
        } catch (err) {
          // A refusal of this case is its answer; anything else (the database went away) fails the request.
          if (!(err instanceof TesseraError) || err.status >= 500) throw err;
          items.push({
            case_id: caseId,
            status: err.status,
            version: null,
            problem: { type: `https://tessera.dev/problems/${err.code.toLowerCase().replaceAll('_', '-')}`, title: err.code, status: err.status, detail: err.message },
          });
        }
      }
      const reassigned = items.filter((i) => i.status < 300).length;
      return { reassigned, failed: items.length - reassigned, items };
    },
  );

  app.get(
    '/v1/alerts/reach',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['supervisor'],
        summary: "Reach and virality alerts: cases whose posts' reach or engagements per hour crossed a template threshold recently, newest first",
        querystring: AlertQuery,
        response: { 200: Type.Object({ items: Type.Array(ReachAlertView) }), '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const since = new Date(core.now().getTime() - (q.since_hours ?? 24) * 3_600_000);
      const items = await readReachAlerts(db, { since, limit: q.limit ?? 25, ...(q.queue ? { queue: q.queue } : {}) });
      return { items };
    },
  );
};
