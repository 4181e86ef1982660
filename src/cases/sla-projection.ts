/**
 * Where a case's open goals would end up, projected from how long the work still running took in
 * resolved cases (the median of each fragment's duration, persistence/fragment-durations.ts). A
 * goal waits for the active fragments that can bring it about — those whose definition names a
 * string its condition names (`'refund_decided' in milestones` waits for fragments that set
 * `refund_decided`); when none does, for every active fragment. Its projected finish is the latest
 * of their expected ends (start + median, never before now); against the deadline and the
 * template's warning point that gives the projected SLA. Pure.
 */
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import type { CaseTemplate } from '../templates/types.js';
import { addIsoDuration } from './time.js';
import type { CaseState, GoalSlaState } from './types.js';

export interface FragmentDurationStat {
  medianMs: number;
  samples: number;
}

export interface GoalProjection {
  goal_key: string;
  deadline_at: string | null;
  /** The goal's SLA state now (after the command). */
  sla: GoalSlaState | null;
  /** When the fragments it waits for would end; null when none of them has a history. */
  projected_done_at: string | null;
  /** on_track | at_risk | breached against the deadline; null without a deadline or a projection. */
  projected_sla: GoalSlaState | null;
  /** Per fragment waited for: its median duration in resolved cases and how many it is from (null: no history). */
  basis: { fragment_id: string; definition: string; median_ms: number | null; samples: number; expected_end_at: string | null }[];
}

const LITERAL = /'([^'\\]+)'|"([^"\\]+)"/g;

function literalsOf(condition: string): string[] {
  return [...condition.matchAll(LITERAL)].map((m) => m[1] ?? m[2] ?? '').filter((s) => s !== '');
}

function keyOf(ref: FragmentRef): string {
  const at = ref.lastIndexOf('@');
  return at < 0 ? ref : ref.slice(0, at);
}

export function projectGoals(
  c: CaseState,
  template: CaseTemplate,
  now: Date,
  durations: ReadonlyMap<string, FragmentDurationStat>,
  definitions: (ref: FragmentRef) => FragmentDefinition | undefined,
): GoalProjection[] {
  const active = c.fragments.filter((f) => f.status === 'active');
  const texts = new Map(active.map((f) => [f.id, JSON.stringify(definitions(f.definition)?.machine ?? {})]));
  return c.goals
    .filter((g) => g.status === 'open')
    .map((g) => {
      const literals = literalsOf(g.condition);
      const named = active.filter((f) => literals.some((s) => texts.get(f.id)!.includes(JSON.stringify(s))));
      const waitedFor = named.length > 0 ? named : active;
      const basis = waitedFor.map((f) => {
        const stat = durations.get(keyOf(f.definition));
        const end = stat ? Math.max(now.getTime(), Date.parse(f.startedAt) + stat.medianMs) : null;
        return {
          fragment_id: f.id,
          definition: f.definition,
          median_ms: stat?.medianMs ?? null,
          samples: stat?.samples ?? 0,
          expected_end_at: end === null ? null : new Date(end).toISOString(),
        };
      });
      const ends = basis.flatMap((b) => (b.expected_end_at ? [Date.parse(b.expected_end_at)] : []));
      const doneAt = ends.length > 0 ? Math.max(...ends) : null;
      let projected: GoalSlaState | null = null;
      if (g.sla === 'breached') projected = 'breached';
      else if (g.deadlineAt && doneAt !== null) {
        const deadline = Date.parse(g.deadlineAt);
        const warnBefore = template.slas?.find((s) => s.goal === g.key)?.warnBefore;
        const warnAt = warnBefore ? Date.parse(g.deadlineAt) - (Date.parse(addIsoDuration(new Date(0), warnBefore, 'warnBefore'))) : deadline;
        projected = doneAt > deadline ? 'breached' : doneAt > warnAt ? 'at_risk' : 'on_track';
      }
      return {
        goal_key: g.key,
        deadline_at: g.deadlineAt ?? null,
        sla: g.sla ?? null,
        projected_done_at: doneAt === null ? null : new Date(doneAt).toISOString(),
        projected_sla: projected,
        basis,
      };
    });
}
