/** The customer aggregate on the wire (snake_case); the 360 adds cases, posts and activity. */
import type { CaseState } from '../cases/types.js';
import type { CustomerState, Metric } from '../customers/types.js';

const metric = (m: Metric | undefined) => (m ? { value: m.value, as_of: m.asOf, source: m.source } : null);

export function customerView(c: CustomerState) {
  return {
    id: c.id,
    status: c.status,
    merged_into: c.mergedInto ?? null,
    merged_from: c.mergedFrom ?? [],
    name: c.profile.name ?? null,
    segment: c.profile.segment ?? null,
    tier: c.profile.tier ?? null,
    locale: c.profile.locale ?? null,
    external_ids: c.externalIds,
    identities: c.identities.map((i) => ({ id: i.id, kind: i.kind, channel: i.channel === '' ? null : i.channel, value: i.value, added_at: i.addedAt })),
    metrics: {
      lifetime_value: metric(c.metrics.lifetimeValue),
      referral_value: metric(c.metrics.referralValue),
      churn_risk: metric(c.metrics.churnRisk),
    },
    influence: Object.fromEntries(
      Object.entries(c.influence).map(([channel, i]) => [channel, { followers: i.followers ?? null, reach: i.reach ?? null, as_of: i.asOf }]),
    ),
    activity_summary: { counts: c.activity.counts as Record<string, number>, last: c.activity.last as Record<string, string> },
    version: c.version,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** A case in the 360, with its priority score and factors (cases/priority.ts keeps them on the case). */
export function caseBrief(c: CaseState) {
  return {
    id: c.id,
    template: c.template,
    title: c.title,
    status: c.status,
    priority: c.priority,
    owner_id: c.ownerId ?? null,
    queue: c.queue ?? null,
    opened_at: c.openedAt,
    closed_at: c.closedAt ?? null,
    priority_score: c.priorityInfo?.score ?? null,
    priority_factors: c.priorityInfo?.factors ?? null,
  };
}

export function lastContactOf(c: CustomerState): string | null {
  return c.activity.last.contact ?? null;
}

/** The case view's `customer_summary`. */
export function caseCustomerSummary(c: CustomerState | undefined, percentiles: { clv: number; crv: number } | null) {
  if (!c) return null;
  return {
    id: c.id,
    status: c.status,
    merged_into: c.mergedInto ?? null,
    name: c.profile.name ?? null,
    segment: c.profile.segment ?? null,
    tier: c.profile.tier ?? null,
    clv: c.metrics.lifetimeValue?.value ?? null,
    crv: c.metrics.referralValue?.value ?? null,
    churn_risk: c.metrics.churnRisk?.value ?? null,
    value_percentiles: percentiles,
    last_contact_at: lastContactOf(c),
  };
}
