/**
 * POST /v1/customers: create, or upsert by external id or identity. A customer found by one of
 * the external ids or identities given is updated instead (profile fields given are set, metrics
 * and influence merged, identities and external ids nobody holds added) and answered 200; none
 * found, a new one is created and answered 201. An identity or external id that another customer
 * holds is refused with 409 naming it and its owner — nothing written.
 */
import type { Actor } from '../cases/types.js';
import type { CustomerInput, CustomerState } from '../customers/types.js';
import type { Kysely } from 'kysely';
import type { Database } from '../persistence/schema.js';
import { applyCustomerCommand, type CustomerCommandDeps } from './apply-customer-command.js';
import { findCustomer } from './resolve-customer.js';
import type { IdempotencyRequest } from './run-command.js';
import type { WriteAnswer, WriteResponse } from './run-idempotent.js';

export interface CreateCustomerRequest {
  input: CustomerInput;
  actor: Actor;
  reason?: string;
  idempotency?: IdempotencyRequest;
  respond: (customer: CustomerState, created: boolean, trx: Kysely<Database>) => Promise<WriteAnswer> | WriteAnswer;
}

export function createCustomer(deps: CustomerCommandDeps, request: CreateCustomerRequest): Promise<WriteResponse> {
  const { input, actor } = request;
  const reason = request.reason !== undefined ? { reason: request.reason } : {};
  const common = { actor, ...(deps.now ? { at: deps.now() } : {}), ...(deps.newId ? { newId: deps.newId } : {}) };
  return deps.writer.run(request.idempotency, {
    effect: async (trx) => {
      const existing = await findCustomer(trx, {
        ...(input.externalIds ? { externalIds: input.externalIds } : {}),
        ...(input.identities ? { identities: input.identities } : {}),
      });
      const pending: string[] = [];
      let customer: CustomerState;
      if (!existing) {
        const r = await applyCustomerCommand(trx, { ...common, command: { type: 'customer.create', input, ...reason } });
        customer = r.customer;
        pending.push(...r.pendingOutbox);
      } else {
        const r = await applyCustomerCommand(trx, {
          ...common,
          customerId: existing,
          command: {
            type: 'customer.update',
            ...(input.profile ? { profile: input.profile } : {}),
            ...(input.metrics ? { metrics: input.metrics } : {}),
            ...(input.influence ? { influence: input.influence } : {}),
            ...(input.externalIds ? { externalIds: input.externalIds } : {}),
            ...reason,
          },
        });
        customer = r.customer;
        pending.push(...r.pendingOutbox);
        for (const identity of input.identities ?? []) {
          const linked = await applyCustomerCommand(trx, { ...common, customerId: existing, command: { type: 'customer.link_identity', identity, ...reason } });
          customer = linked.customer;
          pending.push(...linked.pendingOutbox);
        }
      }
      const answer = await request.respond(customer, !existing, trx);
      return { answer, afterCommit: () => deps.handOver(pending) };
    },
  });
}
