/**
 * How each goal's SLA clock runs, for screens that show a countdown (UI.md: "say whether the clock
 * is business or calendar time, show paused and why"): a `business` clock counts the working time
 * of a calendar (the goal's `deadlineCalendar`, else the template's), a `calendar` clock elapsed
 * time. A clock is paused while the case is on hold (pausable templates stop goal clocks) or,
 * for a business clock, outside working hours. Pure: the template and `now` come in.
 */
import { Type, type Static } from 'typebox';
import { workingMillisecondsBetween } from '../cases/business-calendar.js';
import type { CaseState } from '../cases/types.js';
import type { BusinessCalendar, CaseTemplate } from '../templates/types.js';

export const GoalClockView = Type.Object({
  kind: Type.Union([Type.Literal('business'), Type.Literal('calendar')], { description: 'business: counts working time of `zone`; calendar: elapsed time' }),
  zone: Type.Union([Type.String(), Type.Null()], { description: 'the business calendar zone (IANA), null for calendar time' }),
  paused: Type.Boolean(),
  paused_reason: Type.Union([Type.Literal('case_on_hold'), Type.Literal('outside_working_hours'), Type.Null()]),
  paused_detail: Type.Union([Type.String(), Type.Null()], { description: 'the hold reason, or when work resumes' }),
});
export type GoalClockView = Static<typeof GoalClockView>;

const MINUTE = 60_000;

export function goalClocks(state: CaseState, template: CaseTemplate | undefined, now: Date): Record<string, GoalClockView> {
  const out: Record<string, GoalClockView> = {};
  for (const goal of state.goals) {
    const spec = template?.goals.find((g) => g.key === goal.key && goal.adHoc !== true);
    const calendar: BusinessCalendar | undefined = spec?.deadlineCalendar ?? template?.calendar;
    const onHold = state.status === 'on_hold' && template?.pausable === true;
    const offHours = calendar !== undefined && !onHold && workingMillisecondsBetween(now, new Date(now.getTime() + MINUTE), calendar) === 0;
    out[goal.key] = {
      kind: calendar ? 'business' : 'calendar',
      zone: calendar?.zone ?? null,
      paused: onHold || offHours,
      paused_reason: onHold ? 'case_on_hold' : offHours ? 'outside_working_hours' : null,
      paused_detail: onHold ? (state.holdReason ?? null) : offHours ? `outside the working hours of ${calendar!.zone}` : null,
    };
  }
  return out;
}
