/**
 * How a case finds its customer when it is opened (`customer: { id?, name?, handle?, channel?,
 * email?, phone?, external_ids? }`, from the API or an inbound mapping): by id (a given id is
 * authoritative: that customer, its survivor if merged, or a new customer with that id), else by
 * external id, else by e-mail, phone or handle; none found, a customer is created with them. In the
 * case's own transaction, so the case and its customer commit together.
 *
 * A reference with only a name makes no customer (a name identifies nobody). A handle without a
 * channel is taken as channel `social`. A free-form handle or phone that does not normalise is left
 * out of the customer (the case keeps it as given), so opening a case never fails on it.
 */
import type { Kysely } from 'kysely';
import type { Actor, CaseState } from '../cases/types.js';
import type { IdentityInput } from '../customers/types.js';
import type { Database } from '../persistence/schema.js';
import { resolveCustomer, type ResolvedCustomer } from './resolve-customer.js';

/** The channel of a handle given without one. */
export const DEFAULT_HANDLE_CHANNEL = 'social';

export async function resolveCaseCustomer(
  trx: Kysely<Database>,
  ref: CaseState['customer'] | undefined,
  actor: Actor,
  at: Date,
): Promise<ResolvedCustomer | undefined> {
  if (!ref) return undefined;
  const identities: IdentityInput[] = [];
  if (ref.email) identities.push({ kind: 'email', value: ref.email });
  if (ref.phone) identities.push({ kind: 'phone', value: ref.phone });
  if (ref.handle) identities.push({ kind: 'handle', channel: ref.channel ?? DEFAULT_HANDLE_CHANNEL, value: ref.handle });
  const externalIds = ref.externalIds ?? {};
  if (ref.id === undefined && identities.length === 0 && Object.keys(externalIds).length === 0) return undefined;
  return resolveCustomer(
    trx,
    {
      ...(ref.id !== undefined ? { id: ref.id } : {}),
      ...(identities.length > 0 ? { identities } : {}),
      ...(Object.keys(externalIds).length > 0 ? { externalIds } : {}),
      ...(ref.name ? { profile: { name: ref.name } } : {}),
    },
    { actor, at, skipInvalid: true, reason: 'a case was opened for this customer' },
  );
}
