/**
 * What CEL reads as `customer` (goal conditions, guards): a flat, read-only view of the aggregate
 * with the metric values unwrapped (`customer.clv`, not `customer.metrics.lifetimeValue.value`).
 * Pure.
 */
import type { CustomerSnapshot, CustomerState } from './types.js';

export function customerSnapshot(c: CustomerState, percentiles?: { clv: number; crv: number } | null): CustomerSnapshot {
  const snapshot: CustomerSnapshot = {
    id: c.id,
    followers: 0,
    reach: 0,
    external_ids: { ...c.externalIds },
    activity_counts: { ...c.activity.counts } as Record<string, number>,
    last_activity: { ...c.activity.last } as Record<string, string>,
  };
  for (const field of ['name', 'segment', 'tier', 'locale'] as const) {
    if (c.profile[field] !== undefined) snapshot[field] = c.profile[field];
  }
  if (c.metrics.lifetimeValue) snapshot.clv = c.metrics.lifetimeValue.value;
  if (c.metrics.referralValue) snapshot.crv = c.metrics.referralValue.value;
  if (c.metrics.churnRisk) snapshot.churn_risk = c.metrics.churnRisk.value;
  for (const influence of Object.values(c.influence)) {
    snapshot.followers += influence.followers ?? 0;
    snapshot.reach += influence.reach ?? 0;
  }
  if (percentiles) {
    snapshot.clv_percentile = percentiles.clv;
    snapshot.crv_percentile = percentiles.crv;
  }
  return snapshot;
}
