/**
 * Intake's view of the customer aggregate (src/customers): resolve-or-create the customer from an
 * intake event's identity, read the summary intake rules see as `customer`, and record an event no
 * case took on the customer's activity history (a `contact`, with the post as its data).
 *
 * Each write is a customer command in its own transaction with an idempotency key (stored with
 * its effect, run-idempotent.ts): a re-run after a crash finds the same customer and records
 * nothing twice. Customer outbox rows are handed to the relay after commit.
 */
import type { Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import { hashRequest } from '../commands/run-command.js';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { recordCustomerActivity } from '../commands/record-customer-activity.js';
import { findCustomer, resolveCustomer, type CustomerReference } from '../commands/resolve-customer.js';
import { customerSnapshot, type ActivityInput, type IdentityInput } from '../customers/index.js';
import { loadCustomer, valuePercentiles } from '../persistence/customer-store.js';
import type { Database } from '../persistence/schema.js';
import type { IntakeEvent } from './intake-event.js';
import type { IntakeCustomers } from './intake-ports.js';

export interface CustomerIntakeDeps {
  db: Kysely<Database>;
  writes: IdempotentWriter;
  /** After commit: the customer commands' outbox rows (core.relay.handOverOutbox). */
  handOverOutbox: (ids: string[]) => void;
}

/** The sender's identity as a customer reference: its customer id under the source's name, handle, e-mail. */
export function customerReference(event: IntakeEvent): CustomerReference {
  const identities: IdentityInput[] = [];
  const c = event.customer;
  if (c.handle) identities.push({ kind: 'handle', channel: c.channel ?? event.source, value: c.handle });
  if (c.email) identities.push({ kind: 'email', value: c.email });
  return {
    ...(c.externalId ? { externalIds: { [event.source]: c.externalId } } : {}),
    ...(identities.length > 0 ? { identities } : {}),
    ...(c.name ? { profile: { name: c.name } } : {}),
  };
}

/** What the event adds to the customer's history: a post is a contact on its channel; an activity is itself. */
function activityOf(event: IntakeEvent, at: Date): ActivityInput {
  const d = event.data;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  if (event.kind === 'activity' && str(d.kind)) {
    return { kind: String(d.kind), at: str(d.at) ?? at.toISOString(), ...(d.amount !== undefined ? { amount: d.amount } : {}), ...(str(d.ref) ? { ref: str(d.ref)! } : {}) };
  }
  const ref = str(event.externalRefs.post_id) ?? str(d.post_id) ?? Object.values(event.externalRefs)[0];
  const channel = str(d.channel) ?? event.customer.channel;
  return { kind: 'contact', at: at.toISOString(), ...(ref ? { ref } : {}), ...(channel ? { channel } : {}), data: { source: event.source, type: event.type, kind: event.kind, content: d } };
}

export function createCustomerIntake(deps: CustomerIntakeDeps): IntakeCustomers {
  /** What intake rules read as `customer`: the snapshot with the value percentiles over the base. */
  async function summaryOf(id: string) {
    const state = await loadCustomer(deps.db, id);
    if (!state) return { id, summary: {} };
    const snapshot = customerSnapshot(state, await valuePercentiles(deps.db, id));
    return { id, summary: snapshot as unknown as Record<string, unknown> };
  }

  return {
    async resolve(event, idem) {
      const actor: Actor = { id: idem.owner, role: 'system' };
      const reference = customerReference(event);
      // Most posts come from known customers: a read finds them, with no transaction to write.
      // (The identity that found them is theirs already, so resolve would add nothing.)
      const known = reference.externalIds || reference.identities ? await findCustomer(deps.db, reference) : undefined;
      if (known) return summaryOf(known);
      const response = await deps.writes.run(
        { owner: idem.owner, key: idem.key, requestHash: hashRequest({ resolve: event.customer }) },
        {
          effect: async (trx) => {
            const resolved = await resolveCustomer(trx, reference, { actor, reason: `intake: ${event.source} ${event.type}` });
            return { answer: { statusCode: 200, body: { customer_id: resolved.customer.id } }, afterCommit: () => deps.handOverOutbox(resolved.pendingOutbox) };
          },
        },
      );
      return summaryOf((response.body as { customer_id: string }).customer_id);
    },

    async record(customer, event, idem, at) {
      if (!customer.id) return { recorded: false };
      const customerId = customer.id;
      const actor: Actor = { id: idem.owner, role: 'system' };
      await deps.writes.run(
        { owner: idem.owner, key: idem.key, requestHash: hashRequest({ record: customerId }) },
        {
          effect: async (trx) => {
            const r = await recordCustomerActivity(trx, { customerId, actor, activities: [activityOf(event, at)], reason: `intake: ${event.source} ${event.type}` });
            return { answer: { statusCode: 200, body: { customer_id: customerId } }, afterCommit: () => deps.handOverOutbox(r.pendingOutbox) };
          },
        },
      );
      return { recorded: true };
    },
  };
}
