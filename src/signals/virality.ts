/**
 * Virality of a post: how fast its engagements grow, in engagements per hour. Pure.
 *
 * Measured between the newest sample and a reference: the newest earlier sample at least
 * MIN_SPAN before it (so two updates seconds apart do not read as thousands per hour), else the
 * oldest sample, else the moment it was posted (`posted_at`, with 0 engagements). The span is at
 * least MIN_SPAN either way. Undefined when there is nothing to compare.
 */
import type { PostSample } from '../cases/types.js';

export const MIN_SPAN_MS = 15 * 60_000;

export interface ViralityReading {
  perHour: number;
  /** ISO time of the reference point. */
  since: string;
}

export function viralityOf(samples: readonly PostSample[], postedAt: string | undefined): ViralityReading | undefined {
  const withEngagements = samples.filter((s) => s.engagements !== undefined);
  const newest = withEngagements.at(-1);
  if (!newest) return undefined;
  const newestAt = Date.parse(newest.at);
  let reference: { at: number; engagements: number } | undefined;
  for (let i = withEngagements.length - 2; i >= 0; i--) {
    const s = withEngagements[i]!;
    if (newestAt - Date.parse(s.at) >= MIN_SPAN_MS) {
      reference = { at: Date.parse(s.at), engagements: s.engagements! };
      break;
    }
  }
  if (!reference && withEngagements.length > 1) reference = { at: Date.parse(withEngagements[0]!.at), engagements: withEngagements[0]!.engagements! };
  if (!reference && postedAt !== undefined && Date.parse(postedAt) < newestAt) reference = { at: Date.parse(postedAt), engagements: 0 };
  if (!reference) return undefined;
  const hours = Math.max(newestAt - reference.at, MIN_SPAN_MS) / 3_600_000;
  const perHour = Math.max(0, newest.engagements! - reference.engagements) / hours;
  return { perHour: Math.round(perHour * 10) / 10, since: new Date(reference.at).toISOString() };
}
