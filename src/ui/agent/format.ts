/** Small formatting helpers shared by the agent screens. All return text (never markup). */
import type { GoalView, SlaState } from './types';

export function relative(ms: number): string {
  const abs = Math.abs(ms);
  const m = Math.round(abs / 60_000);
  const text = m < 60 ? `${m} min` : m < 48 * 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The soonest deadline among a case's open goals, or undefined. */
export function soonestDeadline(goals: GoalView[]): GoalView | undefined {
  let best: GoalView | undefined;
  for (const g of goals) {
    if (g.status !== 'open' || !g.deadline_at) continue;
    if (!best || g.deadline_at < best.deadline_at!) best = g;
  }
  return best;
}

export const SLA_TEXT: Record<SlaState, { text: string; tone: 'ok' | 'warn' | 'bad' }> = {
  on_track: { text: 'On track', tone: 'ok' },
  at_risk: { text: 'At risk', tone: 'warn' },
  breached: { text: 'Breached', tone: 'bad' },
};

export function slaOf(goal: GoalView, now: number): SlaState | null {
  if (goal.sla) return goal.sla;
  if (!goal.deadline_at) return null;
  return new Date(goal.deadline_at).getTime() < now ? 'breached' : 'on_track';
}
