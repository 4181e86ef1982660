/**
 * /v1/customers: list and find, the 360, and the customer commands. A route validates,
 * authorises, calls a command (src/commands/*-customer*.ts) and answers; the command runs in one
 * transaction with its Idempotency-Key.
 *
 * Authorization (also in the README matrix):
 * - read (list, 360): agent, supervisor, admin. An agent sees a customer when they may see at least
 *   one of the customer's cases (the case rule, http/access.ts); the 360 lists only those cases.
 *   Others answer 404, so ids do not leak.
 * - write (create/upsert, patch, identities, activity, merge): supervisor, admin, integrator.
 *
 * A merged customer (tombstone) answers GET with 200: `status: "merged"`, `merged_into` naming the
 * survivor, and a `Link: </v1/customers/<survivor>>; rel="canonical"` header — a 301 would make
 * clients follow silently and lose the fact that the id they hold was merged.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { randomUUID } from 'node:crypto';
import { isTimeCursor } from '../persistence/case-queries.js';
import type { CustomerCommandDeps } from '../commands/apply-customer-command.js';
import { createCustomer } from '../commands/create-customer.js';
import { linkCustomerIdentity } from '../commands/link-customer-identity.js';
import { mergeCustomers } from '../commands/merge-customers.js';
import { recordActivityCommand } from '../commands/record-customer-activity.js';
import { unlinkCustomerIdentity } from '../commands/unlink-customer-identity.js';
import { updateCustomer, type UpdateCustomerChanges } from '../commands/update-customer.js';
import { normaliseIdentity } from '../customers/identity.js';
import type { ActivityInput, CustomerInput, CustomerState, IdentityKind, Influence, Metric, MetricKey } from '../customers/types.js';
import { TesseraError } from '../errors.js';
import { loadCustomer, valuePercentiles } from '../persistence/customer-store.js';
import { agentSeesCustomer, customerActivity, customerCases, customerPosts, listCustomers, type CustomerFilters } from '../persistence/customer-queries.js';
import type { Database } from '../persistence/schema.js';
import type { Relay } from '../relay/relay.js';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { canSeeCase, listViewer } from './access.js';
import { etag, expectedVersionOf, idempotencyOf, sendWriteResponse } from './command-request.js';
import {
  ActivityBody,
  CreateCustomerBody,
  Customer360View,
  CustomerListQuery,
  CustomerMergeView,
  CustomerParams,
  CustomerView,
  IdentityBody,
  IdentityParams,
  MergeBody,
  PatchCustomerBody,
} from './customer-schemas.js';
import { caseBrief, customerView, lastContactOf } from './customer-view.js';
import { DEFAULT_PAGE_SIZE, readCursor } from './paging.js';
import { PageOf } from './schemas.js';

export interface CustomerRoutesOptions {
  db: Kysely<Database>;
  writes: IdempotentWriter;
  relay: Relay;
}

const READERS = ['agent', 'supervisor', 'admin'] as const;
const WRITERS = ['supervisor', 'admin', 'integrator'] as const;

const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

type MetricsBody = Partial<Record<'lifetime_value' | 'referral_value' | 'churn_risk', { value: number; as_of: string; source: string } | null>>;
type InfluenceBody = Record<string, { followers?: number; reach?: number; as_of: string } | null>;

const METRIC_NAMES: Record<string, MetricKey> = { lifetime_value: 'lifetimeValue', referral_value: 'referralValue', churn_risk: 'churnRisk' };

function metricsOf<N extends boolean>(body: MetricsBody | undefined): Partial<Record<MetricKey, N extends true ? Metric | null : Metric>> | undefined {
  if (!body) return undefined;
  return Object.fromEntries(
    Object.entries(body).map(([k, m]) => [METRIC_NAMES[k]!, m === null ? null : { value: m!.value, asOf: m!.as_of, source: m!.source }]),
  ) as Partial<Record<MetricKey, Metric>>;
}

function influenceOf(body: InfluenceBody | undefined): Record<string, Influence | null> | undefined {
  if (!body) return undefined;
  return Object.fromEntries(
    Object.entries(body).map(([channel, i]) => [
      channel.toLowerCase(),
      i === null ? null : { asOf: i.as_of, ...(i.followers !== undefined ? { followers: i.followers } : {}), ...(i.reach !== undefined ? { reach: i.reach } : {}) },
    ]),
  );
}

function queryProblem(param: string, detail: string): never {
  throw new TesseraError('VALIDATION_FAILED', `querystring /${param} ${detail}`, { errors: [{ pointer: `/${param}`, in: 'querystring', detail }] });
}

export const customerRoutes: FastifyPluginAsyncTypebox<CustomerRoutesOptions> = async (app, { db, writes, relay }) => {
  const deps: CustomerCommandDeps = {
    db,
    writer: writes,
    handOver: (ids) => relay.handOverOutbox(ids),
    // Behaviour-deviation trip wires re-armed by a purchase or a changed lifetime value.
    handOverCustomerTimers: (timers) => relay.customerTimers.handOver(timers),
    newId: randomUUID,
  };
  const actorOf = (request: FastifyRequest) => ({ id: request.principal.userId, role: request.principal.role });
  /** What every versioned write on a customer takes: who, the version they read (If-Match), their Idempotency-Key. */
  const versionedWrite = (request: FastifyRequest) => ({
    actor: actorOf(request),
    ...optional('expectedVersion', expectedVersionOf(request)),
    ...optional('idempotency', idempotencyOf(request)),
  });
  /** The answer to a customer write: the customer and its ETag. */
  const withCustomer = (c: CustomerState) => ({ statusCode: 200, body: customerView(c), headers: { etag: etag(c.version) } });

  /** The customer, or 404 — for an agent also when none of its cases is theirs. */
  async function readable(request: FastifyRequest, id: string): Promise<CustomerState> {
    const customer = await loadCustomer(db, id);
    const viewer = listViewer(request.principal);
    const visibleId = customer?.status === 'merged' && customer.mergedInto ? customer.mergedInto : id;
    if (!customer || (viewer && !(await agentSeesCustomer(db, visibleId, viewer)))) {
      throw new TesseraError('CUSTOMER_NOT_FOUND', `No customer has id ${id}; GET /v1/customers finds customers by identity or external id`);
    }
    return customer;
  }

  app.get(
    '/v1/customers',
    {
      config: { roles: READERS },
      schema: {
        tags: ['customers'],
        summary: 'Find customers by e-mail, phone, handle (and channel), external id, segment or tier; newest first',
        querystring: CustomerListQuery,
        response: { 200: PageOf(CustomerView), '4xx': problem },
      },
    },
    async (request) => {
      const q = request.query;
      const cursor = readCursor(q.cursor, isTimeCursor);
      const filters: CustomerFilters = {};
      const identityParams = (['email', 'phone', 'handle'] as const).filter((k) => q[k] !== undefined);
      if (identityParams.length > 1) queryProblem(identityParams[1]!, `give one of email, phone, handle (got ${identityParams.join(', ')})`);
      const kind: IdentityKind | undefined = identityParams[0];
      if (kind) {
        const normal = normaliseIdentity({ kind, value: q[kind]!, channel: q.channel ?? 'any' });
        if (!normal.ok) queryProblem(normal.field === 'value' ? kind : 'channel', normal.detail);
        filters.identity = kind === 'handle' && q.channel === undefined ? { kind, value: normal.identity.value } : normal.identity;
      } else if (q.channel !== undefined) {
        queryProblem('channel', 'narrows a handle; give handle too');
      }
      if ((q.external_system === undefined) !== (q.external_id === undefined)) {
        queryProblem(q.external_system === undefined ? 'external_system' : 'external_id', 'external_system and external_id go together');
      }
      if (q.external_system !== undefined) filters.external = { system: q.external_system, id: q.external_id! };
      if (q.segment !== undefined) filters.segment = q.segment;
      if (q.tier !== undefined) filters.tier = q.tier;
      if (q.status !== undefined) filters.status = q.status;
      const viewer = listViewer(request.principal);
      if (viewer) filters.visibleTo = viewer;
      const page = await listCustomers(db, filters, cursor, q.limit ?? DEFAULT_PAGE_SIZE);
      return { items: page.items.map(customerView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/customers/:id',
    {
      config: { roles: READERS },
      schema: {
        tags: ['customers'],
        summary: 'The customer 360: profile, metrics and value percentiles, identities, open and recent cases, posts, activity',
        params: CustomerParams,
        response: { 200: Customer360View, '4xx': problem },
      },
    },
    async (request, reply) => {
      const customer = await readable(request, request.params.id);
      reply.header('etag', etag(customer.version));
      if (customer.status === 'merged') {
        reply.header('link', `</v1/customers/${customer.mergedInto}>; rel="canonical"`);
        return { ...customerView(customer), value_percentiles: null, last_contact_at: null, cases: { open: [], recent: [] }, posts: [], activity: [] };
      }
      const [percentiles, cases, posts, activity] = await Promise.all([
        valuePercentiles(db, customer.id),
        customerCases(db, customer.id),
        customerPosts(db, customer.id),
        customerActivity(db, customer.id),
      ]);
      const visible = (list: typeof cases.open) => list.filter((c) => canSeeCase(request.principal, c));
      const visibleCases = new Set([...visible(cases.open), ...visible(cases.recent)].map((c) => c.id));
      return {
        ...customerView(customer),
        value_percentiles: percentiles,
        last_contact_at: lastContactOf(customer),
        cases: { open: visible(cases.open).map(caseBrief), recent: visible(cases.recent).map(caseBrief) },
        posts: posts.filter((p) => visibleCases.has(p.case_id)),
        activity,
      };
    },
  );

  app.post(
    '/v1/customers',
    {
      config: { roles: WRITERS },
      schema: {
        tags: ['customers'],
        summary: 'Create a customer, or update the one an external id or identity finds (upsert): 201 created, 200 updated',
        body: CreateCustomerBody,
        response: { 200: CustomerView, 201: CustomerView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const profile = Object.fromEntries((['name', 'segment', 'tier', 'locale'] as const).flatMap((k) => (b[k] !== undefined ? [[k, b[k]]] : [])));
      const metrics = metricsOf<false>(b.metrics as MetricsBody | undefined);
      const influence = influenceOf(b.influence as InfluenceBody | undefined) as Record<string, Influence> | undefined;
      const input: CustomerInput = {
        ...(Object.keys(profile).length > 0 ? { profile } : {}),
        ...(b.external_ids ? { externalIds: b.external_ids as Record<string, string> } : {}),
        ...(b.identities ? { identities: b.identities } : {}),
        ...(metrics ? { metrics: metrics as Partial<Record<MetricKey, Metric>> } : {}),
        ...(influence ? { influence } : {}),
      };
      const response = await createCustomer(deps, {
        input,
        actor: actorOf(request),
        ...(b.reason !== undefined ? { reason: b.reason } : {}),
        ...optional('idempotency', idempotencyOf(request)),
        respond: (c, created) => ({ statusCode: created ? 201 : 200, body: customerView(c), headers: { location: `/v1/customers/${c.id}`, etag: etag(c.version) } }),
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.patch(
    '/v1/customers/:id',
    {
      config: { roles: WRITERS },
      schema: {
        tags: ['customers'],
        summary: 'Change profile fields (null clears), CRM metrics, influence per channel, external ids; If-Match with the version',
        params: CustomerParams,
        body: PatchCustomerBody,
        response: { 200: CustomerView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const profile = Object.fromEntries((['name', 'segment', 'tier', 'locale'] as const).flatMap((k) => (b[k] !== undefined ? [[k, b[k]]] : [])));
      const metrics = metricsOf<true>(b.metrics as MetricsBody | undefined);
      const influence = influenceOf(b.influence as InfluenceBody | undefined);
      const changes: UpdateCustomerChanges = {
        ...(Object.keys(profile).length > 0 ? { profile } : {}),
        ...(metrics ? { metrics } : {}),
        ...(influence ? { influence } : {}),
        ...(b.external_ids ? { externalIds: b.external_ids } : {}),
        ...(b.reason !== undefined ? { reason: b.reason } : {}),
      };
      const response = await updateCustomer(deps, {
        customerId: request.params.id,
        changes,
        ...versionedWrite(request),
        respond: withCustomer,
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.post(
    '/v1/customers/:id/identities',
    {
      config: { roles: WRITERS },
      schema: {
        tags: ['customers'],
        summary: 'Link an e-mail, phone or handle; 409 when another customer holds it (naming the owner)',
        params: CustomerParams,
        body: IdentityBody,
        response: { 200: CustomerView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const { reason, ...identity } = request.body;
      const response = await linkCustomerIdentity(deps, {
        customerId: request.params.id,
        identity,
        ...(reason !== undefined ? { reason } : {}),
        ...versionedWrite(request),
        respond: withCustomer,
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/customers/:id/identities/:identity_id',
    {
      config: { roles: WRITERS },
      schema: { tags: ['customers'], summary: 'Unlink an identity (it is free for any customer again)', params: IdentityParams, response: { 200: CustomerView, '4xx': problem } },
    },
    async (request, reply) => {
      const response = await unlinkCustomerIdentity(deps, {
        customerId: request.params.id,
        identityId: request.params.identity_id,
        ...versionedWrite(request),
        respond: withCustomer,
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.post(
    '/v1/customers/:id/activity',
    {
      config: { roles: WRITERS },
      schema: {
        tags: ['customers'],
        summary: 'Record one activity or a batch (`{ activities: [...] }`): purchase, refund, contact, login, visit, referral, subscription, cancellation',
        params: CustomerParams,
        body: ActivityBody,
        response: { 201: CustomerView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const body = request.body as { activities?: ActivityInput[]; reason?: string } & ActivityInput;
      const single = body.activities === undefined;
      const activities = single ? [body as ActivityInput] : body.activities!;
      try {
        const response = await recordActivityCommand(deps, {
          customerId: request.params.id,
          activities,
          actor: actorOf(request),
          ...(!single && body.reason !== undefined ? { reason: body.reason } : {}),
          ...optional('idempotency', idempotencyOf(request)),
          respond: (c) => ({ statusCode: 201, body: customerView(c), headers: { etag: etag(c.version) } }),
        });
        return sendWriteResponse(reply, response);
      } catch (err) {
        // One activity sent bare: its fields are at the top of the body, not under /activities/0.
        if (single && err instanceof TesseraError && err.code === 'INVALID_ACTIVITY') throw singleActivityError(err);
        throw err;
      }
    },
  );

  app.post(
    '/v1/customers/:id/merge',
    {
      config: { roles: WRITERS },
      schema: {
        tags: ['customers'],
        summary: 'Merge `from` into this customer: identities, external ids, activity and cases move; `from` becomes a tombstone',
        params: CustomerParams,
        body: MergeBody,
        response: { 200: CustomerMergeView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const response = await mergeCustomers(deps, {
        into: request.params.id,
        from: request.body.from,
        reason: request.body.reason,
        ...versionedWrite(request),
        respond: (r) => ({
          statusCode: 200,
          body: { survivor: customerView(r.survivor), merged: customerView(r.merged), moved_cases: r.movedCases },
          headers: { etag: etag(r.survivor.version) },
        }),
      });
      return sendWriteResponse(reply, response);
    },
  );
};

function singleActivityError(err: TesseraError): TesseraError {
  const errors = (err.details?.['errors'] as { pointer: string; detail: string }[] | undefined) ?? [];
  const moved = errors.map((e) => ({ ...e, pointer: e.pointer.replace(/^\/activities\/0/, '') || '/' }));
  return new TesseraError('INVALID_ACTIVITY', `The activity is malformed: ${moved.map((e) => `${e.pointer} ${e.detail}`).join('; ')}`, { ...err.details, errors: moved });
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}
