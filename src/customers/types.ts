/**
 * The customer aggregate: who a customer is across channels (identities, external ids), what the
 * business knows of them (profile, CRM metrics with their as-of time and source, influence per
 * channel) and what they did (activity). Changed only by `decideCustomer` (decide.ts) inside one
 * transaction, like a case; every change is journaled with actor and reason.
 *
 * Glossary:
 * - identity: a normalised e-mail, phone number (E.164-ish: `+` and digits) or handle on a
 *   channel (lower-case, no leading `@`). One identity belongs to one customer.
 * - external id: the customer's id in another system (`{ crm: 'C-42' }`).
 * - tombstone: a customer merged into another (`status: 'merged'`, `mergedInto`); it keeps its
 *   id and answers reads by pointing at the survivor; it takes no more commands.
 */
import type { Actor } from '../cases/types.js';

export const IDENTITY_KINDS = ['email', 'phone', 'handle'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export const ACTIVITY_KINDS = [
  'purchase',
  'refund',
  'contact',
  'login',
  'visit',
  'referral',
  'subscription',
  'cancellation',
] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

export const METRIC_KEYS = ['lifetimeValue', 'referralValue', 'churnRisk'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

export const CUSTOMER_STATUSES = ['active', 'merged'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

/** How far in the future an activity time may lie (clocks of senders differ). */
export const ACTIVITY_CLOCK_SKEW_MS = 5 * 60_000;
/** Activities kept in the aggregate (the full history is its own table). */
export const RECENT_ACTIVITY_LIMIT = 20;
/** Activities one command may record. */
export const ACTIVITY_BATCH_LIMIT = 500;

export interface Identity {
  id: string;
  kind: IdentityKind;
  /** The channel of a handle (`twitter`, `instagram`...); '' for e-mails and phones. */
  channel: string;
  /** Normalised. */
  value: string;
  addedAt: string;
}

/** An identity as a caller gives it, before normalisation. */
export interface IdentityInput {
  kind: IdentityKind;
  channel?: string;
  value: string;
}

export interface Metric {
  value: number;
  asOf: string;
  /** Which system or model produced it (`crm`, `bg-nbd`, `agent`...). */
  source: string;
}

export interface Profile {
  name?: string;
  segment?: string;
  tier?: string;
  locale?: string;
}

export interface Influence {
  followers?: number;
  reach?: number;
  asOf: string;
}

export interface Activity {
  id: string;
  kind: ActivityKind;
  at: string;
  amount?: number;
  /** The sender's reference (order id, ticket id...). */
  ref?: string;
  channel?: string;
  data?: Record<string, unknown>;
}

/** An activity as a caller gives it (validated by `validateActivities`). */
export interface ActivityInput {
  kind: string;
  at: string;
  amount?: unknown;
  ref?: string;
  channel?: string;
  data?: Record<string, unknown>;
}

/** What the aggregate keeps of the activity history: counts, last time per kind, a recent slice. */
export interface ActivitySummary {
  counts: Partial<Record<ActivityKind, number>>;
  last: Partial<Record<ActivityKind, string>>;
  /** Newest first, at most RECENT_ACTIVITY_LIMIT. */
  recent: Activity[];
}

export interface CustomerState {
  id: string;
  status: CustomerStatus;
  /** A tombstone's survivor. */
  mergedInto?: string;
  /** Customers merged into this one. */
  mergedFrom?: string[];
  externalIds: Record<string, string>;
  identities: Identity[];
  profile: Profile;
  metrics: Partial<Record<MetricKey, Metric>>;
  influence: Record<string, Influence>;
  activity: ActivitySummary;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface CustomerInput {
  profile?: Profile;
  externalIds?: Record<string, string>;
  identities?: IdentityInput[];
  metrics?: Partial<Record<MetricKey, Metric>>;
  influence?: Record<string, Influence>;
}

/** A change to a profile field: a value sets it, null clears it, absent leaves it. */
export type ProfilePatch = { [K in keyof Profile]?: Profile[K] | null };

export type CustomerCommand =
  | { type: 'customer.create'; input: CustomerInput; reason?: string }
  /** Profile, metrics, influence and external ids, each merged field by field. */
  | {
      type: 'customer.update';
      profile?: ProfilePatch;
      metrics?: Partial<Record<MetricKey, Metric | null>>;
      influence?: Record<string, Influence | null>;
      externalIds?: Record<string, string | null>;
      reason?: string;
    }
  | { type: 'customer.link_identity'; identity: IdentityInput; reason?: string }
  | { type: 'customer.unlink_identity'; identityId: string; reason?: string }
  | { type: 'customer.record_activity'; activities: ActivityInput[]; reason?: string };

export type CustomerCommandType = CustomerCommand['type'] | 'customer.merge';

/** What the store must write besides the aggregate row. */
export type CustomerEffect =
  | { type: 'identity.add'; identity: Identity }
  | { type: 'identity.remove'; identityId: string }
  | { type: 'external_id.set'; system: string; externalId: string }
  | { type: 'external_id.remove'; system: string }
  | { type: 'activity.add'; activity: Activity }
  | { type: 'outbox.emit'; event: { id: string; type: string; data: Record<string, unknown>; occurredAt: string } };

export interface CustomerJournalEntry {
  type: string;
  actor: Actor;
  reason?: string;
  data: Record<string, unknown>;
  at: string;
}

export interface CustomerDecideContext {
  now: Date;
  actor: Actor;
  newId: () => string;
}

export interface CustomerError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type CustomerDecision =
  | { ok: true; customer: CustomerState; effects: CustomerEffect[]; journal: CustomerJournalEntry[] }
  | { ok: false; error: CustomerError };

/** What goal conditions and guards read as `customer` (CEL); see case-templates/README.md. */
export interface CustomerSnapshot {
  id: string;
  name?: string;
  segment?: string;
  tier?: string;
  locale?: string;
  clv?: number;
  crv?: number;
  churn_risk?: number;
  /** Percentiles over the customer base, 0..1 (present when loaded with them). */
  clv_percentile?: number;
  crv_percentile?: number;
  followers: number;
  reach: number;
  external_ids: Record<string, string>;
  activity_counts: Record<string, number>;
  last_activity: Record<string, string>;
}
