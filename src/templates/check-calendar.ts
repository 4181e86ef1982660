/**
 * The business calendar checks JSON Schema cannot express, so that a calendar fault shows up
 * when the catalog loads (file, pointer, fix) rather than as a refused case open later:
 * the zone is a real IANA zone, each working interval opens before it closes and does not
 * overlap another, holidays are real dates, and the week has some working time.
 */
import { DateTime, Duration, IANAZone } from 'luxon';
import { WEEKDAYS, type BusinessCalendar } from './types.js';

export interface CalendarProblem {
  /** JSON pointer relative to the calendar object (`/week/mon/0`). */
  path: string;
  message: string;
}

/** Minutes since local midnight of `HH:mm` (`24:00` is 1440). */
const minutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

export function calendarProblems(calendar: BusinessCalendar): CalendarProblem[] {
  const problems: CalendarProblem[] = [];
  if (!IANAZone.isValidZone(calendar.zone)) {
    problems.push({ path: '/zone', message: `"${calendar.zone}" is not an IANA time zone; use a tz database name such as "Europe/Berlin" or "America/New_York"` });
  }
  let workingDays = 0;
  for (const day of WEEKDAYS) {
    const intervals = calendar.week[day] ?? [];
    if (intervals.length > 0) workingDays++;
    intervals.forEach(([open, close], i) => {
      if (minutes(open) >= minutes(close)) {
        problems.push({
          path: `/week/${day}/${i}`,
          message: `opens at ${open} but closes at ${close}; the opening time must come before the closing time (24:00 closes at midnight; split a night shift over two days)`,
        });
      }
    });
    // Sorted by opening time, each interval must close before the next one opens.
    const sorted = intervals.map(([open, close], i) => ({ open: minutes(open), close: minutes(close), i })).sort((a, b) => a.open - b.open);
    for (let k = 1; k < sorted.length; k++) {
      const before = sorted[k - 1]!;
      const current = sorted[k]!;
      if (before.open < before.close && current.open < before.close) {
        problems.push({ path: `/week/${day}/${current.i}`, message: `overlaps interval ${before.i} of ${day}; merge them into one interval` });
      }
    }
  }
  if (workingDays === 0) {
    problems.push({ path: '/week', message: 'has no working hours on any day; give at least one weekday an interval such as ["09:00", "17:00"]' });
  }
  (calendar.holidays ?? []).forEach((date, i) => {
    if (!DateTime.fromISO(date, { zone: 'utc' }).isValid) {
      problems.push({ path: `/holidays/${i}`, message: `"${date}" is not a calendar date; write an existing date as YYYY-MM-DD` });
    }
  });
  return problems;
}

/**
 * A deadline measured in working time counts working days and hours: weeks, months and years
 * have no working-time meaning (the engine refuses them), so the catalog refuses them first.
 */
export function workingDeadlineProblem(deadline: string): string | undefined {
  const d = Duration.fromISO(deadline);
  if (!d.isValid) return undefined; // the file schema reports a malformed duration
  if (d.years !== 0 || d.quarters !== 0 || d.months !== 0 || d.weeks !== 0) {
    return `deadline ${deadline} has weeks, months or years, which a business calendar cannot count; write working days and hours, e.g. P5D or PT8H`;
  }
  return undefined;
}
