/**
 * A case's situation as the recommender compares it: a set of items, each one fact.
 *
 *   channel=<channel>        the customer's channel (case customer, else its first post)
 *   segment=<segment>        the customer aggregate's segment
 *   value=low|mid|high       the customer's lifetime value percentile (thirds)
 *   sentiment=negative|neutral|positive   the most negative post (< -0.25, > 0.25)
 *   file.<field>=<value>     case-file fields the template declares as enum or boolean
 *   ran:<fragment key>       every fragment in the plan (started at open or added)
 *
 * Bands and categories only (never names, handles or text), so similar cases share items and
 * nothing identifies a person. Pure.
 */
import type { CaseState, Goal } from '../cases/types.js';
import type { CaseTemplate } from '../templates/types.js';

export interface SituationExtras {
  /** The customer aggregate's segment, when the case has a customer. */
  segment?: string | null;
}

const keyOf = (ref: string) => ref.slice(0, ref.lastIndexOf('@'));
const clean = (v: string) => v.trim().toLowerCase().slice(0, 40);

export function valueBand(percentile: number | null | undefined): 'low' | 'mid' | 'high' | undefined {
  if (percentile === null || percentile === undefined || !Number.isFinite(percentile)) return undefined;
  return percentile < 1 / 3 ? 'low' : percentile < 2 / 3 ? 'mid' : 'high';
}

export function sentimentBand(score: number | undefined): 'negative' | 'neutral' | 'positive' | undefined {
  if (score === undefined || !Number.isFinite(score)) return undefined;
  return score < -0.25 ? 'negative' : score > 0.25 ? 'positive' : 'neutral';
}

/** Case-file fields worth comparing: those the template's schema declares with `enum` or as boolean. */
export function categoricalFields(template: Pick<CaseTemplate, 'caseFileSchema'> | undefined): string[] {
  const properties = (template?.caseFileSchema as { properties?: Record<string, { enum?: unknown[]; type?: unknown }> } | undefined)?.properties ?? {};
  return Object.entries(properties)
    .filter(([, p]) => typeof p === 'object' && p !== null && (Array.isArray(p.enum) || p.type === 'boolean'))
    .map(([name]) => name)
    .sort();
}

/** Situation features (everything but `ran:`). */
export function situationFeatures(state: CaseState, template: Pick<CaseTemplate, 'caseFileSchema'> | undefined, extras: SituationExtras = {}): string[] {
  const items: string[] = [];
  const channel = state.customer?.channel ?? state.posts?.[0]?.channel;
  if (channel) items.push(`channel=${clean(channel)}`);
  if (extras.segment) items.push(`segment=${clean(extras.segment)}`);
  const value = valueBand(state.priorityInfo?.customerValue?.clv);
  if (value) items.push(`value=${value}`);
  const scores = (state.posts ?? []).map((p) => p.sentiment?.score).filter((s): s is number => typeof s === 'number');
  const sentiment = sentimentBand(scores.length > 0 ? Math.min(...scores) : undefined);
  if (sentiment) items.push(`sentiment=${sentiment}`);
  for (const field of categoricalFields(template)) {
    const v = state.caseFile[field];
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') items.push(`file.${field}=${clean(String(v))}`);
  }
  return items;
}

/** The fragments in the plan, by key (any status). */
export function ranItems(state: CaseState): string[] {
  return [...new Set(state.fragments.map((f) => `ran:${keyOf(f.definition)}`))].sort();
}

export function situationItems(state: CaseState, template: Pick<CaseTemplate, 'caseFileSchema'> | undefined, extras: SituationExtras = {}): string[] {
  return [...situationFeatures(state, template, extras), ...ranItems(state)];
}

/**
 * The case met its goals on time: every required goal achieved, none after its deadline (and
 * no goal's deadline reached while it was open).
 */
export function goalsMetOnTime(goals: readonly Goal[]): boolean {
  return goals.every((g) => (!g.required || g.status === 'achieved') && !g.achievedLate && (g.deadlineReachedAt === undefined || g.status === 'cancelled'));
}
