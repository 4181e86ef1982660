/**
 * Re-arms a customer's behaviour-deviation trip wires, inside the customer command's transaction
 * (after its activity rows are written, under its row lock): for each template whose `deviation:`
 * rule reads what changed — activity of its kinds, or the lifetime value — the old pending timer is
 * cancelled and the new one, at the expected-next-activity time if the rule still arms, is
 * written. Two round trips: the rules with the customer's series (one index range read per rule),
 * then one statement that cancels and inserts for all of them; never a scan of other customers. The caller hands the returned rows to the relay after commit
 * (`relay.customerTimers.handOver`; if it does not, the reconciler arms them when they are due).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { expectedNextActivity } from '../customers/behaviour-deviation.js';
import type { CustomerEffect, CustomerState } from '../customers/types.js';
import { cancelCustomerTimers, rearmDeviationTimers, type ArmedCustomerTimer, type DeviationTimerSpec } from '../persistence/customer-timer-store.js';
import { loadRulesWithSeries } from '../persistence/deviation-store.js';
import { readPopulationLatency } from '../persistence/population-latency-store.js';
import type { Database } from '../persistence/schema.js';
import { deviationRuleOf } from '../templates/deviation-schema.js';
import type { CaseTemplate } from '../templates/types.js';
import type { Catalog } from './catalog.js';

/** The catalog's templates with a `deviation:` rule (latest version of each key). */
export function deviationTemplates(catalog: Pick<Catalog, 'templates'>): CaseTemplate[] {
  return catalog.templates().filter((t) => t.deviation !== undefined);
}

/**
 * After a customer decision was written: re-arms the trip wires what it changed can move, and
 * returns the new rows. Costs nothing (no statement) for a decision that recorded no activity and
 * left the lifetime value alone. A customer that is no longer active (merged away) loses its
 * pending trip wires.
 */
export async function rearmAfterCustomerChange(
  trx: Kysely<Database>,
  before: CustomerState | undefined,
  after: CustomerState,
  effects: readonly CustomerEffect[],
  newId: () => string = randomUUID,
): Promise<ArmedCustomerTimer[]> {
  if (after.status !== 'active') {
    if (before?.status === 'active') await cancelCustomerTimers(trx, after.id);
    return [];
  }
  const kinds = [...new Set(effects.flatMap((e) => (e.type === 'activity.add' ? [e.activity.kind as string] : [])))];
  const valueChanged = before?.metrics.lifetimeValue?.value !== after.metrics.lifetimeValue?.value;
  if (kinds.length === 0 && !valueChanged) return [];
  return rearmCustomerDeviation(trx, after, valueChanged ? 'all' : kinds, newId);
}

/**
 * `changedKinds`: the activity kinds just recorded (only rules over them are re-armed), or `'all'`
 * when what every rule reads besides activity changed (the lifetime value).
 */
export async function rearmCustomerDeviation(
  trx: Kysely<Database>,
  customer: CustomerState,
  changedKinds: readonly string[] | 'all',
  newId: () => string = randomUUID,
): Promise<ArmedCustomerTimer[]> {
  // The rules over what changed and the customer's series for each: one round trip.
  const rules = await loadRulesWithSeries(trx, customer.id, changedKinds === 'all' ? undefined : changedKinds);
  if (rules.length === 0) return [];
  const value = customer.metrics.lifetimeValue?.value;
  const specs: DeviationTimerSpec[] = [];
  for (const { templateKey, spec, series } of rules) {
    const rule = deviationRuleOf(spec);
    // L_n is read only when the rule would use it (a short history and `fallback: population`).
    const latency =
      rule.fallback === 'population' && series.count > 0 && series.count < rule.minEvents
        ? await readPopulationLatency(trx, rule.kinds, series.count)
        : undefined;
    const e = expectedNextActivity(series, value, rule, () => latency);
    if (!e.armed) continue;
    specs.push({
      id: newId(),
      templateKey,
      dueAt: new Date(e.dueAt).toISOString(),
      basis: { lastAt: new Date(e.lastAt).toISOString(), events: e.events, basis: e.basis, meanGapMs: e.meanGapMs, k: rule.k, kinds: rule.kinds },
    });
  }
  const { armed } = await rearmDeviationTimers(trx, customer.id, rules.map((r) => r.templateKey), specs);
  return armed;
}
