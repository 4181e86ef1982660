/**
 * The case's past and how it departed from its template: plan as of any time
 * (`GET /v1/cases/:id/plan?at=`), conformance per case and aggregated per template. Read-only;
 * everything is rebuilt from the journal (history/).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { Core } from '../core.js';
import { TesseraError } from '../errors.js';
import { caseConformance, conformanceReport } from '../history/conformance-report.js';
import { loadReplaySteps } from '../history/journal-steps.js';
import { planAsOf, reconstructFrom, type PlanAt } from '../history/reconstruct-plan.js';
import { loadCase } from '../persistence/case-store.js';
import type { Database } from '../persistence/schema.js';
import { assertCanSeeCase } from './access.js';
import { CaseParams } from './schemas.js';

export interface HistoryRoutesOptions {
  core: Core;
  db: Kysely<Database>;
}

const WORKERS = ['agent', 'supervisor', 'admin'] as const;
const SUPERVISORS = ['supervisor', 'admin'] as const;
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

/** RFC 3339 date-time with a zone (`2026-12-02T10:00:00Z`, `...+01:00`). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function badQuery(name: string, detail: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', `querystring /${name} ${detail}`, { errors: [{ pointer: `/${name}`, in: 'querystring', detail }] });
}

/** `at` as a version (digits) or an RFC 3339 time; absent: the current version. */
export function parseAt(value: string | undefined, current: number): PlanAt {
  if (value === undefined || value === '') return { version: current };
  if (/^\d+$/.test(value)) return { version: Number(value) };
  if (RFC3339.test(value) && !Number.isNaN(Date.parse(value))) return { time: new Date(value) };
  throw badQuery('at', 'must be a case version (a positive integer) or an RFC 3339 time such as 2026-12-02T10:00:00Z');
}

function timeParam(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) throw badQuery(name, 'must be an RFC 3339 time such as 2026-12-02T10:00:00Z');
  return new Date(value);
}

export const ConformanceQuery = Type.Object({
  template: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Template key (all templates when absent)' })),
  from: Type.Optional(Type.String({ description: 'Cases opened at or after this RFC 3339 time' })),
  to: Type.Optional(Type.String({ description: 'Cases opened before this RFC 3339 time' })),
});

export const PlanQuery = Type.Object({
  at: Type.Optional(Type.String({ description: 'A case version (1, 2, ...) or an RFC 3339 time (the last version made at or before it). Default: the current version.' })),
});

export const historyRoutes: FastifyPluginAsyncTypebox<HistoryRoutesOptions> = async (app, { core, db }) => {
  app.get(
    '/v1/cases/:id/plan',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['history'],
        summary: 'The plan as of a time or version: fragments and their states, goals with SLA state, open tasks, milestones — rebuilt from the journal',
        params: CaseParams,
        querystring: PlanQuery,
        response: { '4xx': problem },
      },
    },
    async (request) => {
      const live = await loadCase(db, request.params.id);
      if (!live) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${request.params.id}`);
      assertCanSeeCase(request.principal, live);
      const at = parseAt(request.query.at, live.version);
      const steps = (await loadReplaySteps(db, [live.id])).get(live.id) ?? [];
      return planAsOf(await reconstructFrom(db, core, live, steps, at), at);
    },
  );

  app.get(
    '/v1/cases/:id/conformance',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['history'],
        summary: 'How the case departed from its template version (insertions, jumps, migrations, log moves, default fragments cancelled or unfinished, goals late or missed) and its token-replay fitness',
        params: CaseParams,
        response: { '4xx': problem },
      },
    },
    async (request) => {
      const live = await loadCase(db, request.params.id);
      if (!live) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${request.params.id}`);
      assertCanSeeCase(request.principal, live);
      const measured = await caseConformance(db, core, live.id);
      if (!measured) {
        throw new TesseraError('HISTORY_NOT_AVAILABLE', `Case ${live.id} was opened before commands were recorded for replay; it cannot be measured`);
      }
      return measured;
    },
  );

  app.get(
    '/v1/reports/conformance',
    {
      config: { roles: SUPERVISORS },
      schema: {
        tags: ['history'],
        summary: 'Conformance of the cases of a template opened in a period: fitness (mean, median, p10, min), deviations by kind, insertions, per template version, least conforming cases',
        querystring: ConformanceQuery,
        response: { '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const from = timeParam('from', q.from);
      const to = timeParam('to', q.to);
      if (from && to && from.getTime() >= to.getTime()) throw badQuery('to', 'must be after from');
      if (q.template !== undefined && !core.catalog.template(q.template)) {
        throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${q.template}; GET /v1/templates lists them`, { field: 'template' });
      }
      return conformanceReport(db, core, { ...(q.template !== undefined ? { template: q.template } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) });
    },
  );
};
