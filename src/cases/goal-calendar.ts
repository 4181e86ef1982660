import type { BusinessCalendar } from '../templates/types.js';
import type { Draft } from './draft.js';
import type { Goal } from './types.js';

/**
 * The calendar a goal's deadline is measured in: the goal's own `deadlineCalendar`, else the
 * template's `calendar` (ad-hoc goals too: their deadline is working time in a working-time case
 * type); undefined means elapsed time. Warning points and holds measure in the same calendar.
 */
export function calendarOfGoal(d: Draft, goal: Goal): BusinessCalendar | undefined {
  const spec = goal.adHoc === true ? undefined : d.ctx.template.goals.find((g) => g.key === goal.key);
  return spec?.deadlineCalendar ?? d.ctx.template.calendar;
}
