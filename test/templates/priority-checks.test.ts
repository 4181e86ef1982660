/**
 * A template's `priority:` and `escalations:` are checked when the catalog loads: nonsense is a
 * located problem (file, pointer, line, fix) and the template is left out.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import { formatProblems } from '../../src/templates/load-problem.js';

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

const template = (extra: string) => `key: hello
version: 1
title: Hello
caseFileSchema:
  type: object
goals:
  - { key: greeted, title: Customer greeted, condition: "'greeted' in milestones", required: true }
milestones:
  - { key: greeted, title: Greeted }
defaultFragments: [say-hello@1]
roles: [agent, supervisor]
resolution: auto
${extra}`;

async function load(extra: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-priority-'));
  roots.push(dir);
  await mkdir(path.join(dir, 'fragments'));
  await writeFile(path.join(dir, 'hello.yaml'), template(extra));
  await writeFile(path.join(dir, 'fragments', 'say-hello.yaml'), FRAGMENT);
  const result = await loadCatalog(dir);
  return { problems: result.problems, text: formatProblems(result.problems), templates: result.templates };
}

describe('priority and escalation checks', () => {
  it('accept a sound section', async () => {
    const { problems, templates } = await load(`priority:
  severity: high
  weights: { sentiment: 40, virality: 0 }
  thresholds: { normal: 10, high: 40, urgent: 80 }
escalations:
  - when: { reach: 10000 }
    raisePriority: high
    actions: [{ action: notify, role: supervisor }, { action: reassign, queue: leads }, { action: startFragment, fragment: say-hello@1 }]
  - when: { virality: 50 }
    actions: [{ action: notify, queue: pr }]
`);
    expect(problems).toEqual([]);
    expect(templates[0]!.escalations).toHaveLength(2);
    expect(templates[0]!.priority!.severity).toBe('high');
  });

  it('negative weights, thresholds not increasing, out of range: each located with its fix', async () => {
    const { problems, text, templates } = await load(`priority:
  weights: { sentiment: -5 }
  thresholds: { normal: 50, high: 40, urgent: 120 }
`);
    expect(templates).toEqual([]);
    expect(problems.map((p) => [p.code, p.path, p.line])).toEqual([
      ['INVALID_PRIORITY', '/priority/weights/sentiment', 14],
      ['INVALID_PRIORITY', '/priority/thresholds/urgent', 15],
      ['INVALID_PRIORITY', '/priority/thresholds', 15],
    ]);
    expect(text).toMatch(/hello\.yaml:14:\d+ \/priority\/weights\/sentiment: weight must be a number >= 0 \(got -5\)/);
    expect(text).toMatch(/must increase: normal < high < urgent/);
  });

  it('every weight 0, an unknown factor or severity: refused', async () => {
    const zero = await load(`priority:
  weights: { lifetime_value: 0, referral_value: 0, sentiment: 0, reach: 0, influence: 0, virality: 0, severity: 0 }
`);
    expect(zero.problems.map((p) => p.path)).toEqual(['/priority/weights']);
    const unknown = await load(`priority:
  weights: { mood: 3 }
  severity: extreme
`);
    expect(unknown.problems.map((p) => p.code)).toEqual(['SCHEMA', 'SCHEMA']);
    expect(unknown.templates).toEqual([]);
  });

  it('escalations: no threshold, both, negative, twice the same, unknown fragment, unknown action, reassign without a queue, unknown role', async () => {
    const { problems, templates } = await load(`escalations:
  - when: {}
    actions: [{ action: notify }]
  - when: { reach: 100, virality: 5 }
    actions: [{ action: notify }]
  - when: { reach: -1 }
    actions: [{ action: notify }]
  - when: { virality: 50 }
    actions: [{ action: startFragment, fragment: no-such@1 }]
  - when: { virality: 50 }
    actions: [{ action: reassign }, { action: notify, role: janitor }]
`);
    expect(templates).toEqual([]);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['INVALID_PRIORITY', '/escalations/0/when'],
      ['INVALID_PRIORITY', '/escalations/1/when'],
      ['INVALID_PRIORITY', '/escalations/2/when/reach'],
      ['UNKNOWN_FRAGMENT', '/escalations/3/actions/0/fragment'],
      ['INVALID_PRIORITY', '/escalations/4/when/virality'],
      ['INVALID_PRIORITY', '/escalations/4/actions/0'],
      ['INVALID_REFERENCE', '/escalations/4/actions/1/role'],
    ]);
    expect(problems.every((p) => p.line !== undefined)).toBe(true);
    const badAction = await load(`escalations:
  - when: { reach: 10 }
    actions: [{ action: tweet }]
`);
    expect(badAction.problems.map((p) => p.code)).toContain('SCHEMA');
  });
});
