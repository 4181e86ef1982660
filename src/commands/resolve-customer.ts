/**
 * Resolve-or-create a customer from what an inbound message or a case knows of them, inside the
 * caller's transaction: by id, else by external id, else by identity (handle, e-mail, phone);
 * a customer found gains the identities and external ids it lacks; none found, one is created
 * with them (and with the given id, when an id was given that nobody holds yet — a CRM's id used
 * as the customer id keeps working).
 *
 * Two transactions creating the same new customer at once: the second one's identity insert waits
 * for the first to commit, then finds it claimed (IDENTITY_CLAIMED). `resolveCustomer` retries
 * that once by lookup, inside a savepoint, so the caller's transaction survives.
 */
import { sql, type Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import { normaliseIdentity } from '../customers/identity.js';
import type { CustomerState, IdentityInput, Profile } from '../customers/types.js';
import { TesseraError } from '../errors.js';
import { findCustomerIdByExternalId, findCustomerIdByIdentity, loadCustomer, loadCustomerForUpdate } from '../persistence/customer-store.js';
import type { Database } from '../persistence/schema.js';
import { applyCustomerCommand } from './apply-customer-command.js';

export interface CustomerReference {
  id?: string;
  externalIds?: Record<string, string>;
  identities?: IdentityInput[];
  /** Profile fields for a customer created here (an existing one keeps its own). */
  profile?: Profile;
}

export interface ResolvedCustomer {
  customer: CustomerState;
  created: boolean;
  /** Outbox rows to hand to the relay after commit. */
  pendingOutbox: string[];
}

export interface ResolveOptions {
  actor: Actor;
  at?: Date;
  newId?: () => string;
  reason?: string;
  /** Leave out identities that do not normalise instead of refusing (a case opened with a free-form handle). */
  skipInvalid?: boolean;
}

/** Finds the customer a reference names (a tombstone resolves to its survivor); no writes. */
export async function findCustomer(db: Kysely<Database>, ref: CustomerReference): Promise<string | undefined> {
  let id: string | undefined;
  if (ref.id !== undefined && (await loadCustomer(db, ref.id))) id = ref.id;
  for (const [system, externalId] of Object.entries(ref.externalIds ?? {})) {
    if (id) break;
    id = await findCustomerIdByExternalId(db, system, externalId);
  }
  for (const identity of ref.identities ?? []) {
    if (id) break;
    const normal = normaliseIdentity(identity);
    if (normal.ok) id = await findCustomerIdByIdentity(db, normal.identity);
  }
  if (!id) return undefined;
  const found = await loadCustomer(db, id);
  return found?.status === 'merged' && found.mergedInto ? found.mergedInto : id;
}

/** Resolve-or-create (see the file comment). Throws TesseraError for a malformed identity. */
export async function resolveCustomer(trx: Kysely<Database>, ref: CustomerReference, options: ResolveOptions): Promise<ResolvedCustomer> {
  // A savepoint: a create that lost the race has written its row in the statement that found the
  // identity claimed; rolling back to here drops it, and the retry finds the winner.
  await sql`savepoint resolve_customer`.execute(trx);
  try {
    const resolved = await attempt(trx, ref, options);
    await sql`release savepoint resolve_customer`.execute(trx);
    return resolved;
  } catch (err) {
    if (!(err instanceof TesseraError) || (err.code !== 'IDENTITY_CLAIMED' && err.code !== 'EXTERNAL_ID_CLAIMED')) throw err;
    await sql`rollback to savepoint resolve_customer`.execute(trx);
    return attempt(trx, ref, options);
  }
}

async function attempt(trx: Kysely<Database>, given: CustomerReference, options: ResolveOptions): Promise<ResolvedCustomer> {
  const ref = options.skipInvalid ? { ...given, identities: (given.identities ?? []).filter((i) => normaliseIdentity(i).ok) } : given;
  const step = { actor: options.actor, ...(options.at ? { at: options.at } : {}), ...(options.newId ? { newId: options.newId } : {}) };
  const reason = options.reason !== undefined ? { reason: options.reason } : {};
  // A given id is authoritative: that customer (its survivor, if merged), or a new one with that id.
  const id = ref.id !== undefined ? await findCustomer(trx, { id: ref.id }) : await findCustomer(trx, ref);
  if (!id) {
    const unclaimed = await unclaimedParts(trx, ref);
    const result = await applyCustomerCommand(trx, {
      ...step,
      ...(ref.id !== undefined ? { newCustomerId: ref.id } : {}),
      command: {
        type: 'customer.create',
        input: {
          ...(ref.profile ? { profile: ref.profile } : {}),
          ...(Object.keys(unclaimed.externalIds).length > 0 ? { externalIds: unclaimed.externalIds } : {}),
          ...(unclaimed.identities.length > 0 ? { identities: unclaimed.identities } : {}),
        },
        ...reason,
      },
    });
    return { customer: result.customer, created: true, pendingOutbox: result.pendingOutbox };
  }
  const locked = await loadCustomerForUpdate(trx, id);
  if (!locked) throw new TesseraError('CUSTOMER_NOT_FOUND', `No customer has id ${id}`);
  let customer = locked.state;
  const pending: string[] = [];
  const unclaimed = await unclaimedParts(trx, ref);
  const externalIds = Object.fromEntries(Object.entries(unclaimed.externalIds).filter(([system]) => customer.externalIds[system] === undefined));
  const identities = unclaimed.identities;
  if (Object.keys(externalIds).length > 0) {
    const r = await applyCustomerCommand(trx, { ...step, at: step.at ?? locked.dbNow, customerId: id, command: { type: 'customer.update', externalIds, ...reason } });
    pending.push(...r.pendingOutbox);
    customer = r.customer;
  }
  for (const identity of identities) {
    const r = await applyCustomerCommand(trx, { ...step, at: step.at ?? locked.dbNow, customerId: id, command: { type: 'customer.link_identity', identity, ...reason } });
    pending.push(...r.pendingOutbox);
    customer = r.customer;
  }
  return { customer, created: false, pendingOutbox: pending };
}

/**
 * Resolution adds what nobody holds and never takes from another customer: an external id or an
 * identity someone else holds is left alone. A malformed identity is refused (422 naming it).
 */
async function unclaimedParts(trx: Kysely<Database>, ref: CustomerReference): Promise<{ externalIds: Record<string, string>; identities: IdentityInput[] }> {
  const externalIds: Record<string, string> = {};
  for (const [system, externalId] of Object.entries(ref.externalIds ?? {})) {
    if ((await findCustomerIdByExternalId(trx, system, externalId)) === undefined) externalIds[system] = externalId;
  }
  const identities: IdentityInput[] = [];
  for (const [n, identity] of (ref.identities ?? []).entries()) {
    const normal = normaliseIdentity(identity);
    if (!normal.ok) {
      throw new TesseraError('INVALID_IDENTITY', `The identity is invalid: ${normal.field} ${normal.detail}`, {
        errors: [{ pointer: `/identities/${n}/${normal.field}`, detail: normal.detail }],
      });
    }
    if ((await findCustomerIdByIdentity(trx, normal.identity)) === undefined) identities.push(identity);
  }
  return { externalIds, identities };
}
