import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import { formatProblems } from '../../src/templates/load-problem.js';
import { deviationRuleOf } from '../../src/templates/deviation-schema.js';

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
      tags: [task]
      meta:
        task: { title: Say hello, role: agent }
      on:
        COMPLETE: done
    done:
      type: final
`;

/** A template whose `deviation:` block starts on line 12 (its keys on the lines after). */
const template = (deviation: string) => `key: win-back
version: 1
title: Win back
caseFileSchema:
  type: object
goals: []
milestones: []
defaultFragments: [say-hello@1]
discretionaryFragments: []
roles: [agent]
resolution: owner
deviation:
${deviation}`;

async function load(deviation: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-deviation-'));
  roots.push(dir);
  await mkdir(path.join(dir, 'fragments'));
  await writeFile(path.join(dir, 'fragments', 'say-hello.yaml'), FRAGMENT);
  await writeFile(path.join(dir, 'win-back.yaml'), template(deviation));
  return loadCatalog(dir);
}

describe('template deviation: block', () => {
  it('accepts a sensible block and fills in the defaults', async () => {
    const result = await load('  kinds: [purchase]\n  k: 1.25\n  minEvents: 3\n  minValue: 100\n');
    expect(result.problems).toEqual([]);
    const t = result.templates.find((x) => x.key === 'win-back')!;
    expect(deviationRuleOf(t.deviation!)).toEqual({
      kinds: ['purchase'],
      k: 1.25,
      minEvents: 3,
      minValue: 100,
      fallback: 'none',
      priority: 'normal',
      priorityByValue: [],
    });
  });

  it('refuses k <= 1 at load, with file:line and the fix', async () => {
    const result = await load('  kinds: [purchase]\n  k: 1\n  minEvents: 3\n  minValue: 100\n');
    expect(result.templates.map((t) => t.key)).not.toContain('win-back');
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ code: 'INVALID_DEVIATION', file: expect.stringMatching(/win-back\.yaml$/), path: '/deviation/k', line: 14 });
    expect(formatProblems(result.problems)).toMatch(/win-back\.yaml:14:\d+ \/deviation\/k: k is 1, .*use a value above 1/);
  });

  it('refuses minEvents < 2 at load', async () => {
    const result = await load('  kinds: [purchase]\n  k: 1.5\n  minEvents: 1\n  minValue: 100\n');
    expect(result.templates.map((t) => t.key)).not.toContain('win-back');
    expect(result.problems).toEqual([
      expect.objectContaining({ code: 'INVALID_DEVIATION', path: '/deviation/minEvents', line: 15, message: expect.stringContaining('at least two events') }),
    ]);
  });

  it('refuses an unknown activity kind, naming the kinds customers record', async () => {
    const result = await load('  kinds: [purchase, purchse]\n  k: 1.5\n  minEvents: 3\n  minValue: 100\n');
    expect(result.templates.map((t) => t.key)).not.toContain('win-back');
    expect(result.problems).toEqual([
      expect.objectContaining({ path: '/deviation/kinds/1', line: 13, message: expect.stringMatching(/unknown activity kind `purchse`; customers record purchase, refund, contact, login, visit, referral, subscription, cancellation/) }),
    ]);
  });

  it('refuses value thresholds out of order or outside [0, 1], and a negative minValue', async () => {
    const result = await load(
      '  kinds: [purchase]\n  k: 1.5\n  minEvents: 3\n  minValue: -1\n  priorityByValue:\n    - { percentile: 0.5, priority: high }\n    - { percentile: 0.9, priority: urgent }\n    - { percentile: 2, priority: low }\n',
    );
    expect(result.problems.map((p) => [p.path, p.line])).toEqual([
      ['/deviation/minValue', 16],
      ['/deviation/priorityByValue/1/percentile', 19],
      ['/deviation/priorityByValue/2/percentile', 20],
    ]);
  });

  it('refuses unknown keys in the block (a typo is not silently ignored)', async () => {
    const result = await load('  kinds: [purchase]\n  k: 1.5\n  minEvent: 3\n  minValue: 100\n');
    expect(result.templates.map((t) => t.key)).not.toContain('win-back');
    expect(result.problems.map((p) => p.message).join('\n')).toMatch(/unknown property `minEvent`/);
    expect(result.problems.map((p) => p.message).join('\n')).toMatch(/required property `minEvents` is missing/);
  });

  it('ships retention-outreach with a sensible deviation block', async () => {
    const result = await loadCatalog('case-templates');
    expect(result.problems).toEqual([]);
    const t = result.templates.find((x) => x.key === 'retention-outreach')!;
    expect(t.deviation).toMatchObject({ kinds: ['purchase'], k: 1.25, minEvents: 3 });
  });
});
