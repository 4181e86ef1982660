/**
 * Behaviour deviation (Jim Novo, "Drilling Down"): when a customer's next activity is overdue by
 * their own rhythm, that moment is a trip wire — a proactive retention case should open before the
 * customer is gone, not a win-back campaign after.
 *
 * Pure: no I/O, no clock. Times come in as epoch milliseconds; the caller reads them from the
 * database (the activity rows, the database's clock).
 *
 * Glossary
 * - **series**: a customer's events of the rule's kinds (e.g. purchases), in time order. Several
 *   kinds in one rule form one series (a purchase or a renewal both count as "buying").
 * - **own mean gap**: the mean of the customer's gaps between consecutive events,
 *   `(t_last - t_first) / (count - 1)` — the sum of consecutive gaps telescopes, so the mean needs
 *   only the first and last time and the count, never the whole history.
 * - **population latency L_n**: the mean time between the n-th and (n+1)-th event over all
 *   customers that made at least n+1 events (Novo's "latency"). Computed by one query over the
 *   activity table and cached (`population-latency-store.ts`), because it is read on every
 *   activity and changes slowly.
 * - **expected next activity**: `last + k × own mean gap` once the customer has `minEvents`
 *   events (Novo's trip wire "recency > 1.25 × the customer's own mean gap, with at least 3
 *   events"). With `fallback: population` a customer with fewer events (at least one) is
 *   expected within `last + L_n` (Novo's other trip wire: "days since the last event > L_n for a
 *   customer with n events"); k is not applied to L_n, which is already a population mean.
 */

import type { Priority } from '../cases/types.js';

export const DAY_MS = 86_400_000;

/** What a template's `deviation:` block says (defaults filled in; see deviation-config.ts). */
export interface DeviationRule {
  /** Activity kinds that form the series (e.g. `['purchase']`). */
  kinds: string[];
  /** Overdue factor: the trip wire is `last + k × own mean gap`; k > 1. */
  k: number;
  /** Events the customer needs for an own mean gap (>= 2: one gap). */
  minEvents: number;
  /** The customer's lifetime value must be at least this (just-in-time retention is for customers that matter). */
  minValue: number;
  /** `population`: customers with fewer than `minEvents` events are expected at `last + L_n`. */
  fallback: 'none' | 'population';
  /** First entry whose `percentile` the customer's value percentile reaches sets the case priority. */
  priorityByValue: { percentile: number; priority: Priority }[];
  /** Priority when no entry of `priorityByValue` is reached. */
  priority: Priority;
}

/** The customer's series, summarised: enough for the own mean gap (see the glossary). */
export interface ActivitySeries {
  count: number;
  /** Epoch ms of the first and last event (absent when count is 0). */
  firstAt?: number;
  lastAt?: number;
}

/** Summarises event times (epoch ms, any order) into a series. */
export function seriesOf(times: readonly number[]): ActivitySeries {
  if (times.length === 0) return { count: 0 };
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const t of times) {
    if (t < firstAt) firstAt = t;
    if (t > lastAt) lastAt = t;
  }
  return { count: times.length, firstAt, lastAt };
}

/** The customer's own mean gap in ms, or undefined with fewer than two events or no time between them. */
export function ownMeanGapMs(series: ActivitySeries): number | undefined {
  if (series.count < 2 || series.firstAt === undefined || series.lastAt === undefined) return undefined;
  const gap = (series.lastAt - series.firstAt) / (series.count - 1);
  return gap > 0 ? gap : undefined;
}

/**
 * Population latency L_n from each customer's ordered event times: for every n, the mean of
 * `t_(n+1) - t_n` over customers that have an (n+1)-th event. The database computes the same in
 * one query (population-latency-store.ts); this is its reference definition, and what tests check
 * the query against.
 */
export function populationLatencyMs(seriesByCustomer: readonly (readonly number[])[], maxN: number): Map<number, { meanMs: number; customers: number }> {
  const sums = new Map<number, { total: number; customers: number }>();
  for (const times of seriesByCustomer) {
    const sorted = [...times].sort((a, b) => a - b);
    for (let i = 0; i + 1 < sorted.length && i + 1 <= maxN; i++) {
      const n = i + 1;
      const entry = sums.get(n) ?? { total: 0, customers: 0 };
      entry.total += sorted[i + 1]! - sorted[i]!;
      entry.customers += 1;
      sums.set(n, entry);
    }
  }
  return new Map([...sums].map(([n, s]) => [n, { meanMs: s.total / s.customers, customers: s.customers }]));
}

/** Why a customer is (or is not) expected back at a given time. */
export type Expectation =
  | {
      armed: true;
      /** Epoch ms of the trip wire. */
      dueAt: number;
      basis: 'own' | 'population';
      /** The gap the trip wire counts from `lastAt`: k × own mean gap, or L_n. */
      gapMs: number;
      /** The own mean gap (basis own) or L_n (basis population). */
      meanGapMs: number;
      lastAt: number;
      events: number;
    }
  | { armed: false; reason: 'too_few_events' | 'below_min_value' | 'no_value' | 'no_rhythm' };

/**
 * When the customer's next activity is expected by the rule, or why no trip wire is set.
 * `value` is the customer's lifetime value (undefined when unknown: nothing is armed — a rule
 * with a minimum value cannot say an unknown customer matters). `latencyMs(n)` is L_n from the
 * cache, asked only with `fallback: population` and fewer than `minEvents` events.
 */
export function expectedNextActivity(
  series: ActivitySeries,
  value: number | undefined,
  rule: DeviationRule,
  latencyMs: (n: number) => number | undefined = () => undefined,
): Expectation {
  if (value === undefined) return { armed: false, reason: 'no_value' };
  if (value < rule.minValue) return { armed: false, reason: 'below_min_value' };
  if (series.lastAt === undefined || series.count === 0) return { armed: false, reason: 'too_few_events' };
  const lastAt = series.lastAt;
  if (series.count >= rule.minEvents) {
    const mean = ownMeanGapMs(series);
    // Every event at the same instant: no rhythm to deviate from.
    if (mean === undefined) return { armed: false, reason: 'no_rhythm' };
    const gapMs = rule.k * mean;
    return { armed: true, dueAt: Math.round(lastAt + gapMs), basis: 'own', gapMs, meanGapMs: mean, lastAt, events: series.count };
  }
  if (rule.fallback === 'population') {
    const latency = latencyMs(series.count);
    if (latency !== undefined && latency > 0) {
      return { armed: true, dueAt: Math.round(lastAt + latency), basis: 'population', gapMs: latency, meanGapMs: latency, lastAt, events: series.count };
    }
  }
  return { armed: false, reason: 'too_few_events' };
}

/** What the timer carries from the moment it was armed: what the firing checks again. */
export interface ArmedBasis {
  /** Epoch ms of the last event the trip wire counted from. */
  lastAt: number;
  events: number;
}

export interface FireFacts {
  /** The customer's series now, under the customer's lock. */
  series: ActivitySeries;
  value: number | undefined;
  /** The customer's value percentile in [0, 1] over the customer base (undefined when unknown). */
  valuePercentile: number | undefined;
  /** An open (or on hold) case of the rule's template already references the customer. */
  openCaseId: string | undefined;
  /** The database's time of the firing transaction (epoch ms) and the timer's due time. */
  now: number;
  dueAt: number;
}

export type FireDecision =
  | { open: true; priority: Priority }
  | { open: false; reason: 'not_due' | 'newer_activity' | 'below_min_value' | 'no_value' | 'too_few_events' | 'case_open' };

/**
 * Whether a due trip wire opens a retention case. The timer is re-armed on each new activity, so
 * a newer activity here means a race the re-arm lost; the rule is checked again because the
 * customer's value may have dropped since, and a customer never gets a second open case.
 */
export function decideDeviationFire(basis: ArmedBasis, facts: FireFacts, rule: DeviationRule): FireDecision {
  if (facts.now < facts.dueAt) return { open: false, reason: 'not_due' };
  if (facts.series.lastAt !== undefined && facts.series.lastAt > basis.lastAt) return { open: false, reason: 'newer_activity' };
  if (facts.value === undefined) return { open: false, reason: 'no_value' };
  if (facts.value < rule.minValue) return { open: false, reason: 'below_min_value' };
  const enough = rule.fallback === 'population' ? facts.series.count >= 1 : facts.series.count >= rule.minEvents;
  if (!enough) return { open: false, reason: 'too_few_events' };
  if (facts.openCaseId !== undefined) return { open: false, reason: 'case_open' };
  return { open: true, priority: priorityForValue(facts.valuePercentile, rule) };
}

/** The first `priorityByValue` entry the percentile reaches (entries are in descending percentile order), else the rule's `priority`. */
export function priorityForValue(percentile: number | undefined, rule: Pick<DeviationRule, 'priorityByValue' | 'priority'>): Priority {
  if (percentile === undefined) return rule.priority;
  for (const entry of rule.priorityByValue) if (percentile >= entry.percentile) return entry.priority;
  return rule.priority;
}
