/**
 * Next-fragment recommendations for an open case, the agent's feedback on them, and how often
 * recommendations were taken. The model and its formula: learning/rank-recommendations.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Catalog } from '../commands/catalog.js';
import { createRecommender } from '../commands/recommend-fragments.js';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { TesseraError } from '../errors.js';
import { loadCase } from '../persistence/case-store.js';
import { feedbackOutcomes, insertFeedback, latestFeedback } from '../persistence/learning-store.js';
import type { Database } from '../persistence/schema.js';
import { assertCanSeeCase } from './access.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';
import type { Recommendation } from '../learning/rank-recommendations.js';
import type { CaseState } from '../cases/types.js';

const WORKERS = ['agent', 'supervisor', 'admin'] as const;
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

const CaseParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const FeedbackParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  recommendation: Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*(@[1-9][0-9]*)?$', maxLength: 80, description: 'The recommendation id (its fragment ref, e.g. refund-approval@1).' }),
});
const ListQuery = Type.Object({ top: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'How many to rank (default 3).' })) }, { additionalProperties: false });
const FeedbackBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('accepted'), Type.Literal('dismissed')], { description: 'accepted: the agent takes it; dismissed: not for this case.' }),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
const ReportQuery = Type.Object(
  {
    template: Type.Optional(Type.String({ maxLength: 64 })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const RecommendationView = Type.Object({
  id: Type.String({ description: 'Post feedback to .../recommendations/{id}/feedback.' }),
  fragment: Type.String({ description: 'key@version to add (POST /v1/cases/:id/fragments { ref }).' }),
  offered_by_template: Type.Boolean(),
  rank: Type.Integer(),
  score: Type.Number({ description: 'Smoothed share of similar resolved cases that added it and met their goals on time.' }),
  added_rate: Type.Number(),
  on_time_rate: Type.Number({ description: 'Goals met on time, among similar cases that added it (smoothed).' }),
  on_time_rate_without: Type.Number({ description: 'The same among similar cases that did not.' }),
  support: Type.Object({ similar_cases: Type.Integer(), added: Type.Integer(), added_on_time: Type.Integer() }),
  reason: Type.String(),
  feedback: Type.Union([Type.Object({ decision: Type.String({ enum: ['accepted', 'dismissed'] }), by: Type.String(), at: Type.String() }), Type.Null()]),
});
const RecommendationsView = Type.Object({
  case_id: Type.String(),
  case_version: Type.Integer(),
  template: Type.String(),
  situation: Type.Array(Type.String(), { description: 'The situation items similar cases are matched on.' }),
  similar_cases: Type.Integer(),
  items: Type.Array(RecommendationView),
});
const FeedbackView = Type.Object({
  id: Type.String(),
  case_id: Type.String(),
  fragment: Type.String(),
  decision: Type.String({ enum: ['accepted', 'dismissed'] }),
  case_version: Type.Integer(),
  rank: Type.Integer({ description: 'Its rank when the feedback was given (0: not in the top 10 then).' }),
  by: Type.String(),
  at: Type.String(),
});
const ReportView = Type.Object({
  feedback: Type.Integer(),
  accepted: Type.Integer(),
  dismissed: Type.Integer(),
  taken: Type.Integer({ description: 'Feedback after which the case added a fragment of that key.' }),
  accepted_taken: Type.Integer(),
  dismissed_taken: Type.Integer(),
});

export interface RecommendationRoutesOptions {
  db: Kysely<Database>;
  catalog: Catalog;
  writes: IdempotentWriter;
}

export const recommendationRoutes: FastifyPluginAsyncTypebox<RecommendationRoutesOptions> = async (app, { db, catalog, writes }) => {
  const recommender = createRecommender({ catalog });
  const segmentOf = async (state: CaseState) => {
    if (!state.customer?.id) return null;
    const row = await db.selectFrom('customers').select('segment').where('id', '=', state.customer.id).executeTakeFirst();
    return row?.segment ?? null;
  };
  const visibleCase = async (principal: Parameters<typeof assertCanSeeCase>[0], id: string) => {
    const state = await loadCase(db, id);
    if (!state) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${id}`);
    assertCanSeeCase(principal, state);
    return state;
  };
  const itemView = (r: Recommendation, rank: number, feedback: Awaited<ReturnType<typeof latestFeedback>>) => {
    const f = feedback.get(r.ref);
    return {
      id: r.ref,
      fragment: r.ref,
      offered_by_template: r.offered,
      rank,
      score: round(r.score),
      added_rate: round(r.addedRate),
      on_time_rate: round(r.onTimeRate),
      on_time_rate_without: round(r.onTimeRateWithout),
      support: { similar_cases: r.support.similarCases, added: r.support.added, added_on_time: r.support.addedOnTime },
      reason: r.reason,
      feedback: f ? { decision: f.decision, by: f.actorId, at: f.at } : null,
    };
  };

  app.get(
    '/v1/cases/:id/recommendations',
    {
      config: { roles: WORKERS },
      schema: { tags: ['learning'], summary: 'Fragments similar resolved cases added, ranked, with support and reason', params: CaseParams, querystring: ListQuery, response: { 200: RecommendationsView, '4xx': problem } },
    },
    async (request) => {
      const state = await visibleCase(request.principal, request.params.id);
      const result = await recommender.recommend(db, state, { limit: request.query.top ?? 3, segment: await segmentOf(state) });
      const feedback = await latestFeedback(db, state.id);
      return {
        case_id: state.id,
        case_version: state.version,
        template: `${state.template.key}@${state.template.version}`,
        situation: result.items,
        similar_cases: result.similarCases,
        items: result.recommendations.map((r, i) => itemView(r, i + 1, feedback)),
      };
    },
  );

  app.post(
    '/v1/cases/:id/recommendations/:recommendation/feedback',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['learning'],
        summary: 'Record whether the agent took a recommendation (a later add of the fragment counts as taken)',
        params: FeedbackParams,
        body: FeedbackBody,
        response: { 201: FeedbackView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const state = await visibleCase(request.principal, request.params.id);
      const wanted = request.params.recommendation;
      const key = wanted.includes('@') ? wanted.slice(0, wanted.lastIndexOf('@')) : wanted;
      const result = await recommender.recommend(db, state, { limit: 10, segment: await segmentOf(state), indexFirst: false });
      const rank = result.recommendations.findIndex((r) => r.fragmentKey === key) + 1;
      const template = catalog.template(state.template.key, state.template.version);
      const known =
        rank > 0 ||
        [...(template?.discretionaryFragments ?? []), ...(template?.defaultFragments ?? [])].some((ref) => ref.startsWith(`${key}@`)) ||
        catalog.fragments().some((f) => f.key === key);
      if (!known || state.fragments.some((f) => f.definition.startsWith(`${key}@`))) {
        throw new TesseraError('RECOMMENDATION_NOT_FOUND', `${wanted} is not a fragment recommended for case ${state.id}; GET /v1/cases/${state.id}/recommendations lists them`);
      }
      const latest = catalog.fragments().find((f) => f.key === key);
      const ref = rank > 0 ? result.recommendations[rank - 1]!.ref : wanted.includes('@') ? wanted : latest ? `${latest.key}@${latest.version}` : wanted;
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          const row = await insertFeedback(trx, {
            id: `rfb_${randomUUID()}`,
            caseId: state.id,
            fragmentRef: ref,
            decision: request.body.decision,
            caseVersion: state.version,
            rank,
            actorId: request.principal.userId,
            reason: request.body.reason ?? null,
          });
          return {
            answer: {
              statusCode: 201,
              body: { id: row.id, case_id: row.caseId, fragment: row.fragmentRef, decision: row.decision, case_version: row.caseVersion, rank: row.rank, by: row.actorId, at: row.at },
            },
          };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/reports/recommendations',
    { config: { roles: ['supervisor', 'admin'] }, schema: { tags: ['learning'], summary: 'Recommendation feedback: accepted, dismissed, and taken (the fragment was added later)', querystring: ReportQuery, response: { 200: ReportView, '4xx': problem } } },
    async (request) => {
      const q = request.query;
      const r = await feedbackOutcomes(db, { ...(q.template ? { templateKey: q.template } : {}), ...(q.from ? { from: q.from } : {}), ...(q.to ? { to: q.to } : {}) });
      return { feedback: r.total, accepted: r.accepted, dismissed: r.dismissed, taken: r.taken, accepted_taken: r.acceptedTaken, dismissed_taken: r.dismissedTaken };
    },
  );
};

const round = (x: number) => Math.round(x * 10_000) / 10_000;
