/**
 * A customer command as a request: Idempotency-Key (the answer is stored in the transaction of
 * the change: commands/run-idempotent.ts), then one transaction — lock, load, decide, write — and
 * after commit the relay gets the outbox rows. The per-command files (create-customer.ts,
 * record-customer-activity.ts, ...) build the command; this runs it.
 */
import type { Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import type { CustomerCommand, CustomerState } from '../customers/types.js';
import type { Database } from '../persistence/schema.js';
import { applyCustomerCommand, type CustomerCommandDeps } from './apply-customer-command.js';
import type { IdempotencyRequest } from './run-command.js';
import type { WriteAnswer, WriteResponse } from './run-idempotent.js';

export interface CustomerCommandRequest {
  customerId: string;
  command: CustomerCommand;
  actor: Actor;
  expectedVersion?: number;
  idempotency?: IdempotencyRequest;
  /** The answer, given the customer after the command (stored with the key, replayed for repeats). */
  respond: (customer: CustomerState, trx: Kysely<Database>) => Promise<WriteAnswer> | WriteAnswer;
}

export async function runCustomerCommand(deps: CustomerCommandDeps, request: CustomerCommandRequest): Promise<WriteResponse> {
  return deps.writer.run(request.idempotency, {
    effect: async (trx) => {
      const result = await applyCustomerCommand(trx, {
        customerId: request.customerId,
        command: request.command,
        actor: request.actor,
        ...(request.expectedVersion !== undefined ? { expectedVersion: request.expectedVersion } : {}),
        ...(deps.now ? { at: deps.now() } : {}),
        ...(deps.newId ? { newId: deps.newId } : {}),
      });
      const answer = await request.respond(result.customer, trx);
      return { answer, afterCommit: () => deps.handOver(result.pendingOutbox) };
    },
  });
}
