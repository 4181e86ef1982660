/**
 * The priority score of a case, and why: a weighted sum of seven factors, each normalised to
 * 0..1, scaled to 0..100. Pure.
 *
 *   score = Σ contribution_i,   contribution_i = 100 · w_i · v_i / Σ w
 *
 * so every factor's contribution is points of the score and they add up to it exactly (each is
 * rounded to 0.1 first; the score is their sum). A sum rather than the product INTELLIGENCE.md
 * sketches: with a product one unknown factor (no reach yet, customer unknown) zeroes or swamps
 * everything, and "how much did reach add?" has no answer a team lead can read off the screen.
 *
 * Factors (value v in 0..1):
 * - lifetime_value, referral_value: the customer's percentile over the customer base (CLV, CRV);
 *   unknown counts as the median, 0.5 — not knowing should neither bury nor promote a case;
 * - sentiment: negativity of the most negative post, max(0, -score);
 * - reach: log10(1 + reach) / log10(1 + 1,000,000), capped at 1 (the widest post);
 * - influence: log10(1 + followers) / 7 (10 million followers = 1), capped (the most followed author);
 * - virality: log10(1 + engagements per hour) / log10(1 + 1,000), capped (the fastest-growing post);
 * - severity: the template's, low 0.25, normal 0.5, high 0.75, critical 1.
 * The priority is the highest threshold the score reaches (`normal`, `high`, `urgent`; below
 * `normal` it is `low`).
 */
import type { Priority, PriorityFactor } from '../cases/types.js';

export const PRIORITY_FACTORS = ['lifetime_value', 'referral_value', 'sentiment', 'reach', 'influence', 'virality', 'severity'] as const;
export type PriorityFactorName = (typeof PRIORITY_FACTORS)[number];

export const SEVERITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
const SEVERITY_VALUE: Record<Severity, number> = { low: 0.25, normal: 0.5, high: 0.75, critical: 1 };

export const DEFAULT_WEIGHTS: Readonly<Record<PriorityFactorName, number>> = {
  lifetime_value: 20,
  referral_value: 10,
  sentiment: 25,
  reach: 15,
  influence: 10,
  virality: 10,
  severity: 10,
};

/** Score -> priority: the highest threshold reached. An unknown customer with no posts scores 20 (normal). */
export const DEFAULT_THRESHOLDS: Readonly<{ normal: number; high: number; urgent: number }> = { normal: 20, high: 45, urgent: 70 };

export const REACH_CAP = 1_000_000;
export const FOLLOWERS_CAP = 10_000_000;
export const VIRALITY_CAP = 1_000;

export interface PriorityConfig {
  weights?: Partial<Record<PriorityFactorName, number>>;
  thresholds?: Partial<{ normal: number; high: number; urgent: number }>;
  severity?: Severity;
}

export interface PostFacts {
  contentId: string;
  sentiment?: { score: number; source: 'computed' | 'provided' };
  reach?: number;
  followers?: number;
  authorHandle?: string;
  /** Engagements per hour (see signals/virality.ts). */
  virality?: number;
}

export interface PriorityInputs {
  /** Percentiles 0..1; null/absent fields are unknown. */
  customer?: { clv: number | null; crv: number | null } | null;
  posts: readonly PostFacts[];
}

export interface PriorityScore {
  score: number;
  priority: Priority;
  factors: PriorityFactor[];
}

export function scorePriority(inputs: PriorityInputs, config: PriorityConfig = {}): PriorityScore {
  const weights = { ...DEFAULT_WEIGHTS, ...config.weights };
  const thresholds = { ...DEFAULT_THRESHOLDS, ...config.thresholds };
  const severity = config.severity ?? 'normal';
  const total = PRIORITY_FACTORS.reduce((sum, f) => sum + weights[f], 0);
  const raw = rawFactors(inputs, severity);
  const factors = PRIORITY_FACTORS.map((name) => {
    const { value, explanation } = raw[name];
    const weight = weights[name];
    const contribution = total > 0 ? round1((100 * weight * value) / total) : 0;
    return { name, value: round3(value), weight, contribution, explanation };
  });
  const score = round1(factors.reduce((sum, f) => sum + f.contribution, 0));
  return { score, priority: priorityOf(score, thresholds), factors };
}

export function priorityOf(score: number, thresholds: { normal: number; high: number; urgent: number }): Priority {
  if (score >= thresholds.urgent) return 'urgent';
  if (score >= thresholds.high) return 'high';
  if (score >= thresholds.normal) return 'normal';
  return 'low';
}

function rawFactors(inputs: PriorityInputs, severity: Severity): Record<PriorityFactorName, { value: number; explanation: string }> {
  const percentile = (p: number | null | undefined, what: string) =>
    p === null || p === undefined
      ? { value: 0.5, explanation: `${what} unknown: counted as the median (0.5)` }
      : { value: clamp01(p), explanation: `${what} at the ${ordinal(Math.round(clamp01(p) * 100))} percentile of customers` };

  const withSentiment = inputs.posts.filter((p) => p.sentiment !== undefined);
  const worst = withSentiment.reduce<PostFacts | undefined>((w, p) => (w === undefined || p.sentiment!.score < w.sentiment!.score ? p : w), undefined);
  const sentiment = worst
    ? {
        value: Math.max(0, -worst.sentiment!.score),
        explanation:
          worst.sentiment!.score < 0
            ? `most negative post ${worst.contentId}: sentiment ${worst.sentiment!.score} (${worst.sentiment!.source})`
            : `no negative post (lowest sentiment ${worst.sentiment!.score})`,
      }
    : { value: 0, explanation: inputs.posts.length === 0 ? 'no posts' : 'no post with a sentiment' };

  const widest = maxBy(inputs.posts, (p) => p.reach);
  const reach = widest
    ? { value: logScale(widest.reach!, REACH_CAP), explanation: `widest post ${widest.contentId}: reach ${widest.reach!.toLocaleString('en-US')} (log scale, 1,000,000 = 1)` }
    : { value: 0, explanation: 'no post with a reach' };

  const loudest = maxBy(inputs.posts, (p) => p.followers);
  const influence = loudest
    ? {
        value: logScale(loudest.followers!, FOLLOWERS_CAP),
        explanation: `${loudest.authorHandle ?? 'author'} of post ${loudest.contentId}: ${loudest.followers!.toLocaleString('en-US')} followers (log10(1 + followers) / 7)`,
      }
    : { value: 0, explanation: 'no post with followers' };

  const fastest = maxBy(inputs.posts, (p) => p.virality);
  const virality = fastest
    ? { value: logScale(fastest.virality!, VIRALITY_CAP), explanation: `post ${fastest.contentId} gains ${round1(fastest.virality!)} engagements per hour (log scale, 1,000/h = 1)` }
    : { value: 0, explanation: 'no engagement growth measured yet' };

  return {
    lifetime_value: percentile(inputs.customer?.clv, 'lifetime value'),
    referral_value: percentile(inputs.customer?.crv, 'referral value'),
    sentiment,
    reach,
    influence,
    virality,
    severity: { value: SEVERITY_VALUE[severity], explanation: `template severity ${severity}` },
  };
}

function maxBy<T>(items: readonly T[], pick: (item: T) => number | undefined): T | undefined {
  let best: T | undefined;
  for (const item of items) {
    const v = pick(item);
    if (v === undefined || !Number.isFinite(v)) continue;
    if (best === undefined || v > pick(best)!) best = item;
  }
  return best;
}

function logScale(x: number, cap: number): number {
  return Math.min(1, Math.log10(1 + Math.max(0, x)) / Math.log10(1 + cap));
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${s}`;
}
