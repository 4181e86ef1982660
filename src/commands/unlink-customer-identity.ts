/** DELETE /v1/customers/:id/identities/:identityId: the identity is free again for any customer. */
import type { CustomerCommandDeps } from './apply-customer-command.js';
import { runCustomerCommand, type CustomerCommandRequest } from './run-customer-command.js';

export function unlinkCustomerIdentity(deps: CustomerCommandDeps, request: Omit<CustomerCommandRequest, 'command'> & { identityId: string; reason?: string }) {
  const { identityId, reason, ...rest } = request;
  return runCustomerCommand(deps, { ...rest, command: { type: 'customer.unlink_identity', identityId, ...(reason !== undefined ? { reason } : {}) } });
}
