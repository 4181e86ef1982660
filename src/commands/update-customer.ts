/**
 * PATCH /v1/customers/:id: profile fields (null clears one), CRM metrics (`{ value, as_of, source }`
 * each; null clears), influence per channel, external ids (null removes). `If-Match` with the
 * customer's version refuses a stale write (412).
 */
import type { CustomerCommand } from '../customers/types.js';
import type { CustomerCommandDeps } from './apply-customer-command.js';
import { runCustomerCommand, type CustomerCommandRequest } from './run-customer-command.js';

export type UpdateCustomerChanges = Omit<Extract<CustomerCommand, { type: 'customer.update' }>, 'type'>;

export function updateCustomer(deps: CustomerCommandDeps, request: Omit<CustomerCommandRequest, 'command'> & { changes: UpdateCustomerChanges }) {
  const { changes, ...rest } = request;
  return runCustomerCommand(deps, { ...rest, command: { type: 'customer.update', ...changes } });
}
