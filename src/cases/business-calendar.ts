/**
 * Working time: `addWorkingTime(start, 'P2DT4H', calendar)` walks the calendar's working
 * intervals in its zone (luxon: local wall-clock times, so DST changes are handled by the zone
 * rules, never by hand). Pure; see `BusinessCalendar` in templates/types.ts for the semantics of
 * the day part (working days) and the time part (working time).
 */
import { DateTime, Duration } from 'luxon';
import { WEEKDAYS, type BusinessCalendar } from '../templates/types.js';
import { reject } from './rejection.js';

/** How far a walk may look ahead before deciding the calendar has (almost) no working time. */
const MAX_DAYS = 3 * 366;

interface Interval {
  start: number;
  end: number;
}

/**
 * `start` plus `durationIso` of working time in `calendar`. Returns the earliest instant at
 * which that much working time has passed (so a deadline that uses up a working day ends at
 * its closing time, not at the next opening). Rejects (VALIDATION_FAILED) a duration with
 * weeks, months or years, an unknown zone, and a calendar with no working time in three years.
 */
export function addWorkingTime(start: Date, durationIso: string, calendar: BusinessCalendar): Date {
  const duration = workingDuration(durationIso, calendar);
  const workingMs = duration.minus({ days: duration.days }).as('milliseconds');
  let at = start.getTime();
  if (duration.days > 0) at = addWorkingDays(at, duration.days, calendar);
  if (workingMs > 0) at = addWorkingMs(at, workingMs, calendar);
  return new Date(at);
}

/**
 * `end` minus `durationIso` of working time: the latest instant from which that much working
 * time reaches `end` (a warning point "PT1H before" a deadline of Tuesday 09:30 with 9-17 hours
 * is Monday 16:30). The day part goes back whole working days to the same point of the day.
 * Rejects what `addWorkingTime` rejects.
 */
export function subtractWorkingTime(end: Date, durationIso: string, calendar: BusinessCalendar): Date {
  const duration = workingDuration(durationIso, calendar);
  const workingMs = duration.minus({ days: duration.days }).as('milliseconds');
  let at = end.getTime();
  if (workingMs > 0) at = subtractWorkingMs(at, workingMs, calendar);
  if (duration.days > 0) at = subtractWorkingDays(at, duration.days, calendar);
  return new Date(at);
}

/** `start` plus `ms` of working time (the instant that much working time has passed). */
export function addWorkingMilliseconds(start: Date, ms: number, calendar: BusinessCalendar): Date {
  checkZone(calendar);
  return ms > 0 ? new Date(addWorkingMs(start.getTime(), ms, calendar)) : start;
}

/** The working time in [from, to), in ms (0 when `to` is not after `from`). */
export function workingMillisecondsBetween(from: Date, to: Date, calendar: BusinessCalendar): number {
  checkZone(calendar);
  const start = from.getTime();
  const end = to.getTime();
  let sum = 0;
  if (end <= start) return 0;
  for (const { day, intervals } of days(start, calendar)) {
    if (day.toMillis() >= end) return sum;
    for (const i of intervals) sum += Math.max(0, Math.min(i.end, end) - Math.max(i.start, start));
  }
  throw new Error('unreachable: days() rejects when it runs out');
}

function workingDuration(durationIso: string, calendar: BusinessCalendar): Duration {
  const duration = Duration.fromISO(durationIso);
  if (!duration.isValid) {
    reject('VALIDATION_FAILED', `"${durationIso}" is not an ISO 8601 duration; use e.g. "PT4H" or "P2D".`);
  }
  if (duration.years !== 0 || duration.quarters !== 0 || duration.months !== 0 || duration.weeks !== 0) {
    reject('VALIDATION_FAILED', `Working-time duration "${durationIso}" has weeks, months or years; write working days, e.g. "P5D".`);
  }
  checkZone(calendar);
  return duration;
}

function checkZone(calendar: BusinessCalendar): void {
  const zoneCheck = DateTime.now().setZone(calendar.zone);
  if (!zoneCheck.isValid) reject('VALIDATION_FAILED', `Calendar zone "${calendar.zone}" is not an IANA time zone; use e.g. "Europe/Berlin".`);
}

/** The working intervals of the local day `day` (start of day in the zone), as epoch ms. */
function intervalsOf(day: DateTime, calendar: BusinessCalendar): Interval[] {
  const date = day.toISODate();
  if (date !== null && (calendar.holidays ?? []).includes(date)) return [];
  const weekday = WEEKDAYS[day.weekday - 1]!;
  return (calendar.week[weekday] ?? [])
    .map(([from, to]) => ({ start: localTime(day, from), end: localTime(day, to) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
}

/** `HH:mm` on `day` in its zone; a time in a DST gap moves forward (luxon), `24:00` is the next midnight. */
function localTime(day: DateTime, hhmm: string): number {
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number];
  if (hour === 24) return day.plus({ days: 1 }).startOf('day').toMillis();
  return day.set({ hour, minute, second: 0, millisecond: 0 }).toMillis();
}

function total(intervals: Interval[]): number {
  return intervals.reduce((sum, i) => sum + (i.end - i.start), 0);
}

/** Local days from the one containing `at`, forever (callers stop; MAX_DAYS guards); `step -1` goes back. */
function* days(at: number, calendar: BusinessCalendar, step: 1 | -1 = 1): Generator<{ day: DateTime; intervals: Interval[] }> {
  let day = DateTime.fromMillis(at, { zone: calendar.zone }).startOf('day');
  for (let n = 0; n < MAX_DAYS; n++) {
    yield { day, intervals: intervalsOf(day, calendar) };
    day = day.plus({ days: step }).startOf('day');
  }
  reject('VALIDATION_FAILED', `Calendar in ${calendar.zone} has no working time within ${MAX_DAYS} days; check its week and holidays.`);
}

function subtractWorkingMs(at: number, ms: number, calendar: BusinessCalendar): number {
  let remaining = ms;
  for (const { intervals } of days(at, calendar, -1)) {
    for (const i of [...intervals].reverse()) {
      if (i.start >= at) continue;
      const to = Math.min(i.end, at);
      if (remaining <= to - i.start) return to - remaining;
      remaining -= to - i.start;
    }
  }
  throw new Error('unreachable: days() rejects when it runs out');
}

/**
 * N working days earlier, at the same working offset into the day (clamped to a shorter day).
 * A point at or before a day's opening (or on a closed day) is the previous working day's closing.
 */
function subtractWorkingDays(at: number, n: number, calendar: BusinessCalendar): number {
  let offset: number | undefined;
  let remaining = n;
  for (const { intervals } of days(at, calendar, -1)) {
    const dayTotal = total(intervals);
    if (dayTotal === 0) continue;
    if (offset === undefined) {
      const into = intervals.reduce((sum, i) => sum + Math.max(0, Math.min(i.end, at) - i.start), 0);
      // At or before this day's opening: the position is the previous working day's closing.
      offset = into === 0 ? Infinity : into;
      // ...so one more working day back than from a point inside this day.
      if (into === 0) remaining += 1;
      continue;
    }
    remaining -= 1;
    if (remaining === 0) return positionIn(intervals, Math.min(offset, dayTotal));
  }
  throw new Error('unreachable: days() rejects when it runs out');
}

function addWorkingMs(at: number, ms: number, calendar: BusinessCalendar): number {
  let remaining = ms;
  for (const { intervals } of days(at, calendar)) {
    for (const i of intervals) {
      if (i.end <= at) continue;
      const from = Math.max(i.start, at);
      if (remaining <= i.end - from) return from + remaining;
      remaining -= i.end - from;
    }
  }
  throw new Error('unreachable: days() rejects when it runs out');
}

/**
 * N working days later, at the same working offset into the day (clamped to a shorter day).
 * A start before opening (or on a closed day) counts from the next opening, which is the same
 * working-time position as the previous working day's closing: `P1D` then ends at the closing
 * of that first working day.
 */
function addWorkingDays(at: number, n: number, calendar: BusinessCalendar): number {
  let offset: number | undefined;
  let remaining = n;
  for (const { intervals } of days(at, calendar)) {
    const dayTotal = total(intervals);
    if (dayTotal === 0) continue;
    if (offset === undefined) {
      offset = intervals.reduce((sum, i) => sum + Math.max(0, Math.min(i.end, at) - i.start), 0);
      // After closing: count from the end of this day, i.e. land on later days' closings.
      if (offset >= dayTotal) offset = Infinity;
      if (offset !== 0) continue;
      // At (or before) the opening: n days of work end at the closing of the (n-1)th working day after this one.
      offset = Infinity;
      remaining -= 1;
      if (remaining === 0) return positionIn(intervals, dayTotal);
      continue;
    }
    remaining -= 1;
    if (remaining === 0) return positionIn(intervals, Math.min(offset, dayTotal));
  }
  throw new Error('unreachable: days() rejects when it runs out');
}

/** The instant `offset` ms of working time into a day; the day's closing when it is all of it. */
function positionIn(intervals: Interval[], offset: number): number {
  let remaining = offset;
  for (const i of intervals) {
    if (remaining <= i.end - i.start) return i.start + remaining;
    remaining -= i.end - i.start;
  }
  return intervals[intervals.length - 1]!.end;
}
