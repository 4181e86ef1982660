/**
 * Goals with SLA countdowns: the kind of clock (business or calendar time), paused and why, the
 * real breach time (never "Now"), urgency in colour AND text. Ticks every 30 s.
 */
import { useNow } from '../inbox';
import { dateTime, relative, slaOf, SLA_TEXT } from '../format';
import type { CaseView } from '../types';

export function GoalsPanel({ view }: { view: CaseView }) {
  const now = useNow(30_000);
  return (
    <section class="panel goals" aria-labelledby="goals-title">
      <h2 id="goals-title">Goals</h2>
      {view.goals.length === 0 ? <p class="muted">No goals.</p> : null}
      {view.goals.map((g) => {
        const clock = view.goal_clocks?.[g.key];
        const sla = g.status === 'open' ? slaOf(g, now) : null;
        return (
          <div class="goal" key={g.key} data-goal={g.key}>
            <span class="title">
              {g.title}
              {g.required ? <span class="muted"> (required)</span> : null}
              {g.ad_hoc ? <span class="badge plain">ad hoc</span> : null}
            </span>
            {g.status === 'achieved' ? (
              <span class={`badge ${g.achieved_late ? 'warn' : 'ok'}`}>{g.achieved_late ? 'Achieved late' : 'Achieved'}</span>
            ) : g.status === 'cancelled' ? (
              <span class="badge plain">Cancelled</span>
            ) : sla ? (
              <span class={`badge ${SLA_TEXT[sla].tone}`}>{SLA_TEXT[sla].text}</span>
            ) : (
              <span class="badge plain">No deadline</span>
            )}
            {g.deadline_at && g.status === 'open' ? (
              <span>
                {new Date(g.deadline_at).getTime() < now ? 'breached ' : 'breaches '}
                {relative(new Date(g.deadline_at).getTime() - now)} <span class="muted">({dateTime(g.deadline_at)})</span>
              </span>
            ) : null}
            {clock ? (
              <span class="muted">
                {clock.kind === 'business' ? `business time${clock.zone ? ` (${clock.zone})` : ''}` : 'calendar time'}
              </span>
            ) : null}
            {clock?.paused ? (
              <span class="badge warn">
                Paused: {clock.paused_reason === 'case_on_hold' ? `case on hold${clock.paused_detail ? ` — ${clock.paused_detail}` : ''}` : clock.paused_detail ?? 'outside working hours'}
              </span>
            ) : null}
          </div>
        );
      })}
    </section>
  );
}
