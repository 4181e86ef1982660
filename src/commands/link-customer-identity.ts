/**
 * POST /v1/customers/:id/identities: links an e-mail, phone or handle (normalised). Linking one the
 * customer has is a no-op (200, nothing written); one another customer holds is a 409 naming it and
 * its owner, nothing written.
 */
import type { IdentityInput } from '../customers/types.js';
import type { CustomerCommandDeps } from './apply-customer-command.js';
import { runCustomerCommand, type CustomerCommandRequest } from './run-customer-command.js';

export function linkCustomerIdentity(deps: CustomerCommandDeps, request: Omit<CustomerCommandRequest, 'command'> & { identity: IdentityInput; reason?: string }) {
  const { identity, reason, ...rest } = request;
  return runCustomerCommand(deps, { ...rest, command: { type: 'customer.link_identity', identity, ...(reason !== undefined ? { reason } : {}) } });
}
