import { describe, expect, it } from 'vitest';
import {
  DAY_MS,
  decideDeviationFire,
  expectedNextActivity,
  ownMeanGapMs,
  populationLatencyMs,
  priorityForValue,
  seriesOf,
  type DeviationRule,
} from '../../src/customers/behaviour-deviation.js';

const rule: DeviationRule = {
  kinds: ['purchase'],
  k: 1.25,
  minEvents: 3,
  minValue: 500,
  fallback: 'none',
  priority: 'normal',
  priorityByValue: [
    { percentile: 0.9, priority: 'urgent' },
    { percentile: 0.7, priority: 'high' },
  ],
};
const T0 = Date.parse('2026-01-01T00:00:00Z');
const day = (n: number) => T0 + n * DAY_MS;

describe('own mean gap', () => {
  it('is the mean of the gaps between consecutive events, whatever their order', () => {
    // gaps 10, 20, 60 days: mean 30
    expect(ownMeanGapMs(seriesOf([day(90), day(0), day(30), day(10)]))).toBe(30 * DAY_MS);
  });
  it('needs two events at different times', () => {
    expect(ownMeanGapMs(seriesOf([day(3)]))).toBeUndefined();
    expect(ownMeanGapMs(seriesOf([day(3), day(3)]))).toBeUndefined();
    expect(ownMeanGapMs(seriesOf([]))).toBeUndefined();
  });
});

describe('expected next activity', () => {
  it('purchases 30 days apart: expected back at last + 1.25 x 30 days', () => {
    const e = expectedNextActivity(seriesOf([day(0), day(30), day(60)]), 1000, rule);
    expect(e).toEqual({ armed: true, dueAt: day(60 + 37.5), basis: 'own', gapMs: 37.5 * DAY_MS, meanGapMs: 30 * DAY_MS, lastAt: day(60), events: 3 });
  });
  it('arms nothing below minEvents, below minValue, with no known value, or with no rhythm', () => {
    expect(expectedNextActivity(seriesOf([day(0), day(30)]), 1000, rule)).toEqual({ armed: false, reason: 'too_few_events' });
    expect(expectedNextActivity(seriesOf([day(0), day(30), day(60)]), 499.99, rule)).toEqual({ armed: false, reason: 'below_min_value' });
    expect(expectedNextActivity(seriesOf([day(0), day(30), day(60)]), undefined, rule)).toEqual({ armed: false, reason: 'no_value' });
    expect(expectedNextActivity(seriesOf([day(5), day(5), day(5)]), 1000, rule)).toEqual({ armed: false, reason: 'no_rhythm' });
  });
  it('with fallback population, a short history is expected back within L_n (k not applied)', () => {
    const population = { ...rule, fallback: 'population' as const };
    const latency = (n: number) => (n === 2 ? 20 * DAY_MS : undefined);
    expect(expectedNextActivity(seriesOf([day(0), day(10)]), 1000, population, latency)).toMatchObject({ armed: true, basis: 'population', dueAt: day(30), events: 2 });
    // No L_1 known yet: nothing armed.
    expect(expectedNextActivity(seriesOf([day(0)]), 1000, population, latency)).toEqual({ armed: false, reason: 'too_few_events' });
    // Enough events: the customer's own rhythm wins over the population's.
    expect(expectedNextActivity(seriesOf([day(0), day(10), day(20)]), 1000, population, latency)).toMatchObject({ basis: 'own', dueAt: day(32.5) });
  });
});

describe('population latency L_n', () => {
  it('is the mean time from the n-th to the (n+1)-th event over customers that made it', () => {
    const l = populationLatencyMs([[day(0), day(10), day(40)], [day(5), day(35)], [day(100)]], 5);
    expect(l.get(1)).toEqual({ meanMs: 20 * DAY_MS, customers: 2 });
    expect(l.get(2)).toEqual({ meanMs: 30 * DAY_MS, customers: 1 });
    expect(l.has(3)).toBe(false);
  });
  it('stops at maxN', () => {
    expect([...populationLatencyMs([[day(0), day(1), day(2), day(3)]], 2).keys()]).toEqual([1, 2]);
  });
});

describe('firing', () => {
  const basis = { lastAt: day(60), events: 3 };
  const facts = { series: seriesOf([day(0), day(30), day(60)]), value: 1000, valuePercentile: 0.8, openCaseId: undefined, now: day(98), dueAt: day(97.5) };
  it('opens a case with the priority of the value percentile', () => {
    expect(decideDeviationFire(basis, facts, rule)).toEqual({ open: true, priority: 'high' });
    expect(decideDeviationFire(basis, { ...facts, valuePercentile: 0.95 }, rule)).toEqual({ open: true, priority: 'urgent' });
    expect(decideDeviationFire(basis, { ...facts, valuePercentile: 0.2 }, rule)).toEqual({ open: true, priority: 'normal' });
  });
  it('does not open when a newer activity came, the rule no longer holds, a case is open, or it is early', () => {
    expect(decideDeviationFire(basis, { ...facts, series: seriesOf([day(0), day(30), day(60), day(90)]) }, rule)).toEqual({ open: false, reason: 'newer_activity' });
    expect(decideDeviationFire(basis, { ...facts, value: 10 }, rule)).toEqual({ open: false, reason: 'below_min_value' });
    expect(decideDeviationFire(basis, { ...facts, openCaseId: 'c1' }, rule)).toEqual({ open: false, reason: 'case_open' });
    expect(decideDeviationFire(basis, { ...facts, now: day(97) }, rule)).toEqual({ open: false, reason: 'not_due' });
  });
  it('priority without a percentile is the rule default', () => {
    expect(priorityForValue(undefined, rule)).toBe('normal');
  });
});
