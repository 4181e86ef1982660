/**
 * The normalised intake event: what a source mapping (JSONata) turns a sender's payload into,
 * and what the templates' intake rules (CEL) decide on. A mapping only normalises; it never
 * decides which case type opens (see intake-rules.ts).
 *
 * Glossary: an *identity* is how a sender knows the customer (channel + handle, e-mail, or the
 * sender's own customer id); the *identity key* orders one customer's messages (the inbox
 * applies rows of one key in receipt order, so a second post sees the case the first opened).
 */
export const INTAKE_KINDS = ['social_post', 'crm_event', 'activity', 'case_event'] as const;
export type IntakeKind = (typeof INTAKE_KINDS)[number];

/** The content kind a case stores an intake event as (and whose typed schema its data must meet). */
export const CONTENT_KIND_OF = { social_post: 'social_post', crm_event: 'crm_profile', activity: 'note', case_event: 'note' } as const satisfies Record<IntakeKind, string>;

export interface CustomerIdentity {
  /** Social channel (`x`, `instagram`, ...) with `handle`. */
  channel?: string;
  handle?: string;
  email?: string;
  /** The sender's (CRM's) own id for the customer. */
  externalId?: string;
  /** Display name, if the sender knows it (not an identity). */
  name?: string;
}

export interface IntakeEvent {
  source: string;
  kind: IntakeKind;
  /** Event type from the source, e.g. `social.post.created`. */
  type: string;
  customer: CustomerIdentity;
  /** Content data (for a post: channel, author_handle, url, text, posted_at, followers, reach, ...). */
  data: Record<string, unknown>;
  /** References the sender knows this by (`post_id`, `order_id`): threading keys. */
  externalRefs: Record<string, string>;
}

/**
 * The key that orders one customer's messages, and the identity threading compares: the
 * sender's customer id first (the most stable), then channel + handle, then e-mail. Undefined
 * when the event names no identity (the mapping must give one: see mapping.ts).
 */
export function identityKey(customer: CustomerIdentity): string | undefined {
  if (customer.externalId) return `ext:${customer.externalId}`;
  if (customer.handle) return `handle:${(customer.channel ?? '').toLowerCase()}:${customer.handle.toLowerCase()}`;
  if (customer.email) return `email:${customer.email.toLowerCase()}`;
  return undefined;
}

/** `channel:handle` (lower case) as stored in a case's external refs under IDENTITY_REF, for threading by identity. */
export function handleIdentity(customer: CustomerIdentity): string | undefined {
  return customer.handle ? `${(customer.channel ?? '').toLowerCase()}:${customer.handle.toLowerCase()}` : undefined;
}

/** The external reference under which a case opened by intake keeps the identity it was opened for. */
export const IDENTITY_REF = 'identity';
