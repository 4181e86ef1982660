/**
 * POST /v1/customers/:id/merge `{ from, reason }`: `from` is merged into `:id` (the survivor), in
 * one transaction: both rows locked (in id order), the pure `decideMerge`, both written with their
 * journal entries (`customer.merged_in` on the survivor, `customer.merged_into` on the tombstone),
 * then the rows move — identities, external ids, activity, and the cases (each case gets a
 * `customer.merged` journal entry and a new version). The tombstone keeps its id and points at the
 * survivor (`merged_into`); it takes no more commands.
 */
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Actor } from '../cases/types.js';
import { decideMerge } from '../customers/decide.js';
import type { CustomerState } from '../customers/types.js';
import { loadCustomersForUpdate, moveCustomerRows, saveCustomer } from '../persistence/customer-store.js';
import type { Database } from '../persistence/schema.js';
import { notFound, refuseCustomer, type CustomerCommandDeps } from './apply-customer-command.js';
import type { IdempotencyRequest } from './run-command.js';
import type { WriteAnswer, WriteResponse } from './run-idempotent.js';

export interface MergeResult {
  survivor: CustomerState;
  merged: CustomerState;
  /** Ids of the cases that now point at the survivor. */
  movedCases: string[];
}

export interface MergeCustomersRequest {
  into: string;
  from: string;
  reason: string;
  actor: Actor;
  expectedVersion?: number;
  idempotency?: IdempotencyRequest;
  respond: (result: MergeResult, trx: Kysely<Database>) => Promise<WriteAnswer> | WriteAnswer;
}

/** The merge inside the caller's transaction; hand `pendingOutbox` to the relay after commit. */
export async function mergeCustomersIn(
  trx: Kysely<Database>,
  m: { into: string; from: string; reason: string; actor: Actor; expectedVersion?: number; at?: Date; newId?: () => string },
): Promise<MergeResult & { pendingOutbox: string[] }> {
  const { states, dbNow } = await loadCustomersForUpdate(trx, [m.into, m.from]);
  const survivor = states.get(m.into);
  if (!survivor) notFound(m.into);
  const merged = states.get(m.from);
  if (!merged) {
    refuseCustomer({ code: 'CUSTOMER_NOT_FOUND', message: `No customer has id ${m.from}; "from" must name the customer to merge in`, details: { errors: [{ pointer: '/from', detail: 'no such customer' }] } });
  }
  if (m.expectedVersion !== undefined && m.expectedVersion !== survivor.version) {
    refuseCustomer({ code: 'CUSTOMER_VERSION_MISMATCH', message: `The customer is at version ${survivor.version}, not ${m.expectedVersion}; reload it and try again`, details: { current_version: survivor.version } });
  }
  const at = m.at ?? dbNow;
  const decision = decideMerge(survivor, merged, { now: at, actor: m.actor, newId: m.newId ?? randomUUID }, m.reason);
  if (!decision.ok) refuseCustomer(decision.error);
  // The tombstone first: its rows leave before the survivor's aggregate claims them.
  const a = await saveCustomer(trx, { previousVersion: merged.version, next: decision.merged.customer, effects: [], journal: decision.merged.journal, actor: m.actor });
  const movedCases = await moveCustomerRows(trx, { from: m.from, into: m.into, actor: m.actor, reason: m.reason, at: at.toISOString() });
  const b = await saveCustomer(trx, {
    previousVersion: survivor.version,
    next: decision.survivor.customer,
    effects: decision.survivor.effects.filter((e) => e.type === 'outbox.emit'),
    journal: decision.survivor.journal.map((j) => (j.type === 'customer.merged_in' ? { ...j, data: { ...j.data, cases: movedCases } } : j)),
    actor: m.actor,
  });
  return { survivor: decision.survivor.customer, merged: decision.merged.customer, movedCases, pendingOutbox: [...a.pendingOutbox, ...b.pendingOutbox] };
}

export function mergeCustomers(deps: CustomerCommandDeps, request: MergeCustomersRequest): Promise<WriteResponse> {
  return deps.writer.run(request.idempotency, {
    effect: async (trx) => {
      const result = await mergeCustomersIn(trx, {
        into: request.into,
        from: request.from,
        reason: request.reason,
        actor: request.actor,
        ...(request.expectedVersion !== undefined ? { expectedVersion: request.expectedVersion } : {}),
        ...(deps.now ? { at: deps.now() } : {}),
        ...(deps.newId ? { newId: deps.newId } : {}),
      });
      const answer = await request.respond(result, trx);
      return { answer, afterCommit: () => deps.handOver(result.pendingOutbox) };
    },
  });
}
