import { describe, expect, it } from 'vitest';
import { addWorkingMilliseconds, addWorkingTime, subtractWorkingTime, workingMillisecondsBetween } from '../../src/cases/business-calendar.js';
import { Rejection } from '../../src/cases/rejection.js';
import type { BusinessCalendar } from '../../src/templates/types.js';

const NINE_TO_FIVE: [string, string][] = [['09:00', '17:00']];
const BERLIN: BusinessCalendar = {
  zone: 'Europe/Berlin',
  week: { mon: NINE_TO_FIVE, tue: NINE_TO_FIVE, wed: NINE_TO_FIVE, thu: NINE_TO_FIVE, fri: NINE_TO_FIVE },
  holidays: ['2026-12-25'],
};

const add = (start: string, duration: string, calendar = BERLIN) => addWorkingTime(new Date(start), duration, calendar).toISOString();

describe('addWorkingTime', () => {
  it('counts only working hours, across a weekend', () => {
    // Friday 16:00 Berlin (UTC+1) + 2 working hours = Monday 10:00.
    expect(add('2026-01-09T15:00:00Z', 'PT2H')).toBe('2026-01-12T09:00:00.000Z');
  });

  it('stays inside the day when the time fits, and ends at closing when it is used up exactly', () => {
    expect(add('2026-01-05T08:00:00Z', 'PT3H30M')).toBe('2026-01-05T11:30:00.000Z');
    expect(add('2026-01-05T08:00:00Z', 'PT8H')).toBe('2026-01-05T16:00:00.000Z');
  });

  it('skips a holiday (and the weekend after it)', () => {
    // Thursday 24 Dec 16:00 + 2h: 1h on Thursday, Friday 25th is a holiday, Monday 10:00.
    expect(add('2026-12-24T15:00:00Z', 'PT2H')).toBe('2026-12-28T09:00:00.000Z');
    expect(add('2026-12-24T15:00:00Z', 'PT2H', { ...BERLIN, holidays: [] })).toBe('2026-12-25T09:00:00.000Z');
  });

  it('keeps the local hour across a DST change (Berlin, 29 March 2026)', () => {
    // Friday 10:00 CET (09:00Z) + 1 working day = Monday 10:00 CEST (08:00Z).
    expect(add('2026-03-27T09:00:00Z', 'P1D')).toBe('2026-03-30T08:00:00.000Z');
    // Friday 13:00 CET + 8h: 4h Friday, 4h Monday -> 13:00 CEST.
    expect(add('2026-03-27T12:00:00Z', 'PT8H')).toBe('2026-03-30T11:00:00.000Z');
  });

  it('counts real hours inside a working interval that spans the DST change', () => {
    const nights: BusinessCalendar = { zone: 'Europe/Berlin', week: { sun: [['00:00', '04:00']] } };
    // 29 March: 00:00-04:00 local is 3 real hours (02:00 -> 03:00 is skipped).
    expect(add('2026-03-28T23:00:00Z', 'PT3H', nights)).toBe('2026-03-29T02:00:00.000Z');
    // 25 October: 00:00-04:00 local is 5 real hours (02:00-03:00 happens twice).
    expect(add('2026-10-24T22:00:00Z', 'PT5H', nights)).toBe('2026-10-25T03:00:00.000Z');
    expect(add('2026-10-24T22:00:00Z', 'PT6H', nights)).toBe('2026-11-01T00:00:00.000Z');
  });

  it('day parts count working days at the same point of the day', () => {
    expect(add('2026-01-05T12:00:00Z', 'P1D')).toBe('2026-01-06T12:00:00.000Z'); // Mon 13:00 -> Tue 13:00
    expect(add('2026-01-09T12:00:00Z', 'P1D')).toBe('2026-01-12T12:00:00.000Z'); // Fri -> Mon
    expect(add('2026-01-05T07:00:00Z', 'P2D')).toBe('2026-01-06T16:00:00.000Z'); // before opening: Tue closing
    expect(add('2026-01-10T10:00:00Z', 'P1D')).toBe('2026-01-12T16:00:00.000Z'); // Saturday: Monday closing
    expect(add('2026-01-05T17:00:00Z', 'P1D')).toBe('2026-01-06T16:00:00.000Z'); // after closing: Tue closing
    expect(add('2026-01-05T12:00:00Z', 'P1DT5H')).toBe('2026-01-07T09:00:00.000Z'); // Tue 13:00 + 5h = Wed 10:00
  });

  it('refuses weeks/months, an unknown zone and a calendar without working time', () => {
    expect(() => add('2026-01-05T08:00:00Z', 'P1W')).toThrow(Rejection);
    expect(() => add('2026-01-05T08:00:00Z', 'PT1H', { ...BERLIN, zone: 'Mars/Olympus' })).toThrow(/IANA/);
    expect(() => add('2026-01-05T08:00:00Z', 'PT1H', { zone: 'UTC', week: {} })).toThrow(/no working time/);
  });
});

const HOUR = 3600_000;
const sub = (end: string, duration: string, calendar = BERLIN) => subtractWorkingTime(new Date(end), duration, calendar).toISOString();
const between = (from: string, to: string) => workingMillisecondsBetween(new Date(from), new Date(to), BERLIN);

describe('subtractWorkingTime', () => {
  it('goes back over working hours only, across a weekend and a holiday', () => {
    expect(sub('2026-01-12T09:00:00Z', 'PT2H')).toBe('2026-01-09T15:00:00.000Z'); // Mon 10:00 - 2h = Fri 16:00
    expect(sub('2026-01-05T16:00:00Z', 'PT8H')).toBe('2026-01-05T08:00:00.000Z'); // a whole day: its opening
    expect(sub('2026-12-28T09:00:00Z', 'PT2H')).toBe('2026-12-24T15:00:00.000Z'); // over Christmas
    expect(sub('2026-01-10T12:00:00Z', 'PT1H')).toBe('2026-01-09T15:00:00.000Z'); // from Saturday: Friday 16:00
  });

  it('day parts go back whole working days to the same point of the day', () => {
    expect(sub('2026-01-12T12:00:00Z', 'P1D')).toBe('2026-01-09T12:00:00.000Z'); // Mon 13:00 -> Fri 13:00
    expect(sub('2026-01-12T08:00:00Z', 'P1D')).toBe('2026-01-08T16:00:00.000Z'); // Mon opening = Fri closing -> Thu closing
    expect(sub('2026-01-07T09:00:00Z', 'P1DT2H')).toBe('2026-01-05T15:00:00.000Z'); // Wed 10:00 - 2h = Tue 16:00, - 1 day = Mon 16:00
  });

  it('undoes addWorkingTime for points inside working hours', () => {
    for (const [start, d] of [['2026-01-05T12:00:00Z', 'PT13H'], ['2026-01-08T10:30:00Z', 'P2DT3H'], ['2026-12-23T09:00:00Z', 'PT20H']] as const) {
      expect(sub(add(start, d), d)).toBe(new Date(start).toISOString());
    }
  });
});

describe('workingMillisecondsBetween and addWorkingMilliseconds', () => {
  it('count only working time, and are inverse of each other', () => {
    expect(between('2026-01-09T16:00:00Z', '2026-01-12T15:00:00Z')).toBe(7 * HOUR); // Fri 17:00 -> Mon 16:00
    expect(between('2026-01-07T13:00:00Z', '2026-01-08T10:00:00Z')).toBe(5 * HOUR); // Wed 14:00 -> Thu 11:00
    expect(between('2026-01-12T15:00:00Z', '2026-01-09T16:00:00Z')).toBe(0);
    expect(addWorkingMilliseconds(new Date('2026-01-12T08:00:00Z'), 7 * HOUR, BERLIN).toISOString()).toBe('2026-01-12T15:00:00.000Z');
    expect(addWorkingMilliseconds(new Date('2026-01-10T08:00:00Z'), 0, BERLIN).toISOString()).toBe('2026-01-10T08:00:00.000Z');
  });
});
