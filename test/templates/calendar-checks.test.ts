/**
 * Business calendars in templates are checked when the catalog loads: a fault is a located
 * problem (file, pointer, line, fix), the template is left out, and no case opens on it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/templates/load-catalog.js';

const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true })));
});

const FRAGMENT = `key: say-hello
version: 1
title: Say hello
machine:
  id: say-hello
  initial: greeting
  states:
    greeting:
      on:
        COMPLETE: done
    done:
      type: final
      entry:
        - { type: setMilestone, params: { key: greeted } }
`;

/** A valid template with a goal (line 11 holds its deadline); `extra` is appended at the end. */
const template = (goalExtra = '', extra = '', deadline = 'PT8H') => `key: hello
version: 1
title: Hello
caseFileSchema:
  type: object
goals:
  - key: greeted
    title: Customer greeted
    condition: "'greeted' in milestones"
    required: true
    deadline: ${deadline}
${goalExtra}milestones:
  - { key: greeted, title: Greeted }
defaultFragments: [say-hello@1]
discretionaryFragments: []
roles: [agent]
resolution: auto
${extra}`;

async function problemsOf(templateText: string, fragmentText = FRAGMENT) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-calendar-'));
  roots.push(dir);
  await mkdir(path.join(dir, 'fragments'));
  await writeFile(path.join(dir, 'hello.yaml'), templateText);
  await writeFile(path.join(dir, 'fragments', 'say-hello.yaml'), fragmentText);
  const result = await loadCatalog(dir);
  return { problems: result.problems, templates: result.templates.map((t) => t.key) };
}

const CALENDAR = `calendar:
  zone: Europe/Berlin
  week:
    mon: [["09:00", "17:00"]]
    tue: [["09:00", "12:00"], ["13:00", "17:00"]]
  holidays: ["2031-12-25"]
`;

describe('business calendar checks', () => {
  it('accept a sound calendar', async () => {
    const { problems, templates } = await problemsOf(template('', CALENDAR));
    expect(problems).toEqual([]);
    expect(templates).toEqual(['hello']);
  });

  it('locate an unknown time zone, with the fix', async () => {
    const { problems, templates } = await problemsOf(template('', CALENDAR.replace('Europe/Berlin', 'Mars/Olympus_Mons')));
    expect(problems).toEqual([
      {
        code: 'INVALID_CALENDAR',
        file: expect.stringMatching(/\/hello\.yaml$/),
        path: '/calendar/zone',
        line: 19,
        column: 9,
        message: '"Mars/Olympus_Mons" is not an IANA time zone; use a tz database name such as "Europe/Berlin" or "America/New_York"',
      },
    ]);
    expect(templates).toEqual([]);
  });

  it('locate an interval that does not open before it closes, and overlapping intervals', async () => {
    const cal = CALENDAR.replace('mon: [["09:00", "17:00"]]', 'mon: [["18:00", "09:00"]]').replace(
      'tue: [["09:00", "12:00"], ["13:00", "17:00"]]',
      'tue: [["09:00", "12:00"], ["11:00", "17:00"], ["17:00", "17:00"]]',
    );
    const { problems } = await problemsOf(template('', cal));
    expect(problems.map((p) => [p.code, p.path, p.line, p.message])).toEqual([
      ['INVALID_CALENDAR', '/calendar/week/mon/0', 21, expect.stringContaining('opens at 18:00 but closes at 09:00; the opening time must come before the closing time')],
      ['INVALID_CALENDAR', '/calendar/week/tue/2', 22, expect.stringContaining('opens at 17:00 but closes at 17:00')],
      ['INVALID_CALENDAR', '/calendar/week/tue/1', 22, 'overlaps interval 0 of tue; merge them into one interval'],
    ]);
  });

  it('locate holidays that are not dates (schema for the shape, the catalog for the calendar)', async () => {
    const { problems } = await problemsOf(template('', CALENDAR.replace('["2031-12-25"]', '["2031-02-30", "2031-13-01", "Christmas"]')));
    expect(problems.map((p) => [p.code, p.path])).toEqual([['SCHEMA', '/calendar/holidays/2']]);
    const dates = await problemsOf(template('', CALENDAR.replace('["2031-12-25"]', '["2031-02-30", "2031-13-01", "2031-12-25"]')));
    expect(dates.problems.map((p) => [p.code, p.path, p.message])).toEqual([
      ['INVALID_CALENDAR', '/calendar/holidays/0', '"2031-02-30" is not a calendar date; write an existing date as YYYY-MM-DD'],
      ['INVALID_CALENDAR', '/calendar/holidays/1', '"2031-13-01" is not a calendar date; write an existing date as YYYY-MM-DD'],
    ]);
  });

  it("check a goal's own deadlineCalendar the same way, and a week with no working time", async () => {
    const goalCalendar = `    deadlineCalendar:
      zone: Atlantis/Central
      week: {}
`;
    const { problems } = await problemsOf(template(goalCalendar));
    expect(problems.map((p) => [p.code, p.path, p.line])).toEqual([
      ['INVALID_CALENDAR', '/goals/0/deadlineCalendar/zone', 13],
      ['INVALID_CALENDAR', '/goals/0/deadlineCalendar/week', 14],
    ]);
    expect(problems.find((p) => p.path.endsWith('/week'))!.message).toContain('has no working hours on any day');
  });

  it('refuse a deadline in weeks or months when a calendar counts it, but not without one', async () => {
    const { problems } = await problemsOf(template('', CALENDAR, 'P1W'));
    expect(problems.map((p) => [p.code, p.path, p.line, p.message])).toEqual([
      ['INVALID_CALENDAR', '/goals/0/deadline', 11, expect.stringContaining('write working days and hours, e.g. P5D or PT8H')],
    ]);
    expect((await problemsOf(template('', '', 'P1W'))).problems).toEqual([]);
  });

  it("refuse a fragment whose ISO delay or task due counts weeks under the template's calendar, but not without one", async () => {
    const weekly = FRAGMENT.replace(
      '    greeting:\n',
      '    greeting:\n      tags: [task]\n      meta: { task: { title: Greet, role: agent, due: P2W } }\n      after: { P1W: done, "5000": done }\n',
    );
    const { problems, templates } = await problemsOf(template('', CALENDAR), weekly);
    expect(problems.map((p) => [p.code, p.path, p.message])).toEqual([
      ['INVALID_CALENDAR', '/defaultFragments/0', expect.stringContaining('its `after` delay P1W (state greeting)')],
      ['INVALID_CALENDAR', '/defaultFragments/0', expect.stringContaining('its task due P2W (state greeting)')],
    ]);
    expect(templates).toEqual([]);
    expect((await problemsOf(template(), weekly)).problems).toEqual([]);
  });

  it('refuse a warnBefore in weeks when the goal counts working time', async () => {
    const sla = 'slas:\n  - goal: greeted\n    warnBefore: P1W\n';
    const { problems } = await problemsOf(template('', CALENDAR + sla, 'P10D'));
    expect(problems.map((p) => [p.code, p.path, p.message])).toEqual([
      ['INVALID_CALENDAR', '/slas/0/warnBefore', expect.stringContaining('warnBefore P1W has weeks, months or years')],
    ]);
  });

  it('a deadlineCalendar is a calendar, not the name of one: a name is a located schema problem', async () => {
    const { problems, templates } = await problemsOf(template('    deadlineCalendar: office-hours\n'));
    expect(problems.map((p) => [p.code, p.path, p.line])).toEqual([['SCHEMA', '/goals/0/deadlineCalendar', 12]]);
    expect(templates).toEqual([]);
  });
});
