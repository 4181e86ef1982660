/**
 * `customer.record_activity`: one activity or a batch (purchases, contacts, logins...). Every
 * activity is validated first (kind, finite amount, RFC 3339 time not in the future beyond the
 * clock skew); one malformed activity refuses the batch with 422 naming its field, nothing written.
 *
 * `recordCustomerActivity` is the same step inside another command's transaction (intake records a
 * contact when a post arrives; a CRM event records a purchase): the activity commits or rolls back
 * with it.
 */
import type { Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import type { ActivityInput } from '../customers/types.js';
import type { Database } from '../persistence/schema.js';
import { applyCustomerCommand, type CustomerCommandDeps, type CustomerStepResult } from './apply-customer-command.js';
import { runCustomerCommand, type CustomerCommandRequest } from './run-customer-command.js';

export interface RecordActivityInput {
  customerId: string;
  activities: ActivityInput[];
  actor: Actor;
  reason?: string;
  /** Time of the decision (bounds "in the future"); default: the database's time. */
  at?: Date;
  newId?: () => string;
}

/** Inside the caller's transaction; hand `pendingOutbox` to the relay after commit. */
export function recordCustomerActivity(trx: Kysely<Database>, input: RecordActivityInput): Promise<CustomerStepResult> {
  return applyCustomerCommand(trx, {
    customerId: input.customerId,
    command: { type: 'customer.record_activity', activities: input.activities, ...(input.reason !== undefined ? { reason: input.reason } : {}) },
    actor: input.actor,
    ...(input.at ? { at: input.at } : {}),
    ...(input.newId ? { newId: input.newId } : {}),
  });
}

export function recordActivityCommand(
  deps: CustomerCommandDeps,
  request: Omit<CustomerCommandRequest, 'command'> & { activities: ActivityInput[]; reason?: string },
) {
  const { activities, reason, ...rest } = request;
  return runCustomerCommand(deps, {
    ...rest,
    command: { type: 'customer.record_activity', activities, ...(reason !== undefined ? { reason } : {}) },
  });
}
