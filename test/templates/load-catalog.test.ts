import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import { formatProblems, type LoadProblem } from '../../src/templates/load-problem.js';

const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A catalog in a fresh temp dir; keys are paths relative to it (`fragments/x.yaml`). */
async function catalog(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-catalog-'));
  roots.push(dir);
  await mkdir(path.join(dir, 'fragments'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

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
      entry:
        - { type: setMilestone, params: { key: greeted } }
`;

const TEMPLATE = `key: hello
version: 1
title: Hello
caseFileSchema:
  type: object
goals:
  - key: greeted
    title: Customer greeted
    condition: "'greeted' in milestones"
    required: true
    deadline: PT1H
milestones:
  - { key: greeted, title: Greeted }
defaultFragments: [say-hello@1]
discretionaryFragments: []
roles: [agent]
resolution: auto
`;

function only(problems: LoadProblem[], code: LoadProblem['code']): LoadProblem[] {
  return problems.filter((p) => p.code === code);
}

describe('the shipped catalog', () => {
  it('loads with zero problems', async () => {
    const result = await loadCatalog('case-templates');
    expect(formatProblems(result.problems)).toBe('');
    expect(result.templates.map((t) => `${t.key}@${t.version}`).sort()).toEqual([
      'billing-dispute@1',
      'callback-request@1',
      'product-repair@1',
      'social-complaint@2',
    ]);
    expect(result.fragments.length).toBeGreaterThanOrEqual(12);
  });

  it('resolves every fragment ref of every template', async () => {
    const { templates, fragments } = await loadCatalog('case-templates');
    const refs = new Set(fragments.map((f) => `${f.key}@${f.version}`));
    for (const t of templates) {
      for (const ref of [...t.defaultFragments, ...t.discretionaryFragments]) expect(refs).toContain(ref);
    }
  });

  it('gives social-complaint a required 1-hour public reply goal and an approval reminder', async () => {
    const { templates, fragments } = await loadCatalog('case-templates');
    const social = templates.find((t) => t.key === 'social-complaint')!;
    expect(social.goals.find((g) => g.key === 'public_reply')).toMatchObject({ required: true, deadline: 'PT1H' });
    expect(social.discretionaryFragments).toEqual(
      expect.arrayContaining(['goodwill-gesture@1', 'follow-up-survey@1', 'escalate-to-pr@1']),
    );
    const reply = fragments.find((f) => f.key === 'public-reply')!;
    expect(Object.keys(reply.machine.states.awaitingApproval?.after ?? {})).toEqual(['PT15M']);
    expect(reply.machine.states.awaitingApproval?.meta?.task?.role).toBe('supervisor');
  });

  it('records origins so later problems can name the file', async () => {
    const { origins } = await loadCatalog('case-templates');
    expect(origins).toContainEqual({
      kind: 'template',
      ref: 'billing-dispute@1',
      file: path.join('case-templates', 'billing-dispute.yaml'),
    });
    expect(origins).toContainEqual({
      kind: 'fragment',
      ref: 'refund-approval@1',
      file: path.join('case-templates', 'fragments', 'refund-approval.yaml'),
    });
  });
});

describe('loadCatalog on a minimal catalog', () => {
  it('accepts a valid template and fragment, YAML or JSON', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE,
      'fragments/say-hello.yaml': FRAGMENT,
      'fragments/wave.json': JSON.stringify({
        key: 'wave',
        version: 1,
        title: 'Wave',
        machine: { id: 'wave', initial: 'a', states: { a: { on: { GO: 'b' } }, b: { type: 'final' } } },
      }),
      'README.md': '# not a template',
    });
    const result = await loadCatalog(dir);
    expect(result.problems).toEqual([]);
    expect(result.templates).toHaveLength(1);
    expect(result.templates[0]).toMatchObject({ key: 'hello', version: 1, defaultFragments: ['say-hello@1'] });
    expect(result.fragments.map((f) => f.key).sort()).toEqual(['say-hello', 'wave']);
  });

  it('reports a missing directory instead of throwing', async () => {
    const result = await loadCatalog(path.join(os.tmpdir(), 'tessera-no-such-catalog-dir'));
    expect(result.problems).toEqual([expect.objectContaining({ code: 'READ_FAILED', message: 'catalog directory not found' })]);
    expect(result.templates).toEqual([]);
  });
});

describe('bad files', () => {
  it('YAML syntax: file, line and column; the file contributes nothing, the others still load', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE,
      'broken.yaml': 'key: broken\nversion: 1\ngoals:\n  - key: a\n   title: misindented\n',
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates } = await loadCatalog(dir);
    const syntax = only(problems, 'SYNTAX');
    expect(syntax.length).toBeGreaterThan(0);
    expect(syntax[0]).toMatchObject({ file: path.join(dir, 'broken.yaml'), path: '', line: 5 });
    expect(syntax[0]!.column).toBeGreaterThan(0);
    expect(problems.every((p) => p.file === path.join(dir, 'broken.yaml'))).toBe(true);
    expect(templates.map((t) => t.key)).toEqual(['hello']);
  });

  it('duplicate YAML keys are a syntax problem, not a silent overwrite', async () => {
    const dir = await catalog({ 'hello.yaml': TEMPLATE.replace('title: Hello\n', 'title: Hello\ntitle: Again\n') });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems[0]).toMatchObject({ code: 'SYNTAX', line: 4 });
    expect(problems[0]!.message).toMatch(/unique/i);
    expect(templates).toEqual([]);
  });

  it('JSON syntax in a fragment file: line and column', async () => {
    const dir = await catalog({ 'fragments/bad.json': '{\n  "key": "bad",\n  "version": 1,\n}\n' });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'SYNTAX', file: path.join(dir, 'fragments', 'bad.json'), line: 4, column: 1 }),
    ]);
  });

  it('unknown template field: JSON pointer to it, its line, and the allowed fields', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('roles: [agent]', 'roles: [agent]\ndefaultFragment: [say-hello@1]'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'SCHEMA', file: path.join(dir, 'hello.yaml'), path: '/defaultFragment', line: 17, column: 1 }),
    ]);
    expect(problems[0]!.message).toContain('defaultFragments');
    expect(templates).toEqual([]);
  });

  it('missing required field and a bad enum value: one clear problem each', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('resolution: auto\n', '').replace('required: true', 'required: yes please'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems.map((p) => [p.path, p.line])).toEqual(
      expect.arrayContaining([
        ['/resolution', 1],
        ['/goals/0/required', 10],
      ]),
    );
    expect(problems.find((p) => p.path === '/resolution')!.message).toMatch(/required property `resolution`/);
    expect(problems).toHaveLength(2);
  });

  it('a priority outside the list names the allowed values', async () => {
    const dir = await catalog({
      'hello.yaml': `${TEMPLATE}intake:\n  - { source: crm, eventType: x.created, action: open, priority: hgh }\n`,
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([expect.objectContaining({ code: 'SCHEMA', path: '/intake/0/priority', line: 19 })]);
    expect(problems[0]!.message).toBe('must be one of: "low", "normal", "high", "urgent"');
  });

  it('unknown fragment ref in discretionaryFragments: path, line, and the template is left out', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('discretionaryFragments: []', 'discretionaryFragments:\n  - say-hello@2'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates, fragments } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({
        code: 'UNKNOWN_FRAGMENT',
        file: path.join(dir, 'hello.yaml'),
        path: '/discretionaryFragments/0',
        line: 16,
        message: 'no fragment say-hello@2 in the catalog; known versions: say-hello@1',
      }),
    ]);
    expect(templates).toEqual([]);
    expect(fragments.map((f) => f.key)).toEqual(['say-hello']);
  });

  it('unknown fragment ref in defaultFragments', async () => {
    const dir = await catalog({ 'hello.yaml': TEMPLATE });
    const { problems } = await loadCatalog(dir);
    expect(only(problems, 'UNKNOWN_FRAGMENT')).toEqual([
      expect.objectContaining({ path: '/defaultFragments/0', line: 14 }),
    ]);
    expect(problems[0]!.message).toContain('add fragments/say-hello.yaml');
  });

  it('duplicate key@version in two files: both named, neither published', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE,
      'hello-copy.yaml': TEMPLATE.replace('title: Hello', 'title: Hello again'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates } = await loadCatalog(dir);
    const dups = only(problems, 'DUPLICATE');
    expect(dups.map((p) => path.basename(p.file)).sort()).toEqual(['hello-copy.yaml', 'hello.yaml']);
    expect(dups[0]).toMatchObject({ path: '/version', line: 2 });
    expect(dups.find((p) => p.file.endsWith('hello.yaml'))!.message).toContain('hello-copy.yaml');
    expect(templates).toEqual([]);
  });

  it('a goal condition that does not compile', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace(`condition: "'greeted' in milestones"`, 'condition: "milestones.greeted &&"'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'INVALID_EXPRESSION', path: '/goals/0/condition', line: 9, column: 16 }),
    ]);
    expect(problems[0]!.message).toMatch(/does not parse/);
    expect(templates).toEqual([]);
  });

  it('a condition over a variable that is not in scope', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace(`condition: "'greeted' in milestones"`, `condition: "order.vip == true"`),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(only(problems, 'INVALID_EXPRESSION')).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/caseFile, milestones/);
  });

  it('a caseFileSchema that is not valid JSON Schema, and one that is not an object', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace(
        'caseFileSchema:\n  type: object\n',
        'caseFileSchema:\n  type: object\n  properties:\n    amount: { type: money }\n',
      ),
      'other.yaml': TEMPLATE.replace('key: hello', 'key: other').replace('  type: object\n', '  type: array\n'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems, templates } = await loadCatalog(dir);
    const invalid = only(problems, 'INVALID_JSON_SCHEMA');
    expect(invalid).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: path.join(dir, 'hello.yaml'), path: '/caseFileSchema/properties/amount/type', line: 7 }),
        expect.objectContaining({ file: path.join(dir, 'other.yaml'), path: '/caseFileSchema/type', line: 5 }),
      ]),
    );
    expect(templates).toEqual([]);
  });

  it('an unknown keyword in caseFileSchema (a typo) is refused', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('caseFileSchema:\n  type: object\n', 'caseFileSchema:\n  type: object\n  requird: [amount]\n'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([expect.objectContaining({ code: 'INVALID_JSON_SCHEMA', path: '/caseFileSchema' })]);
    expect(problems[0]!.message).toContain('requird');
  });

  it('the same strict draft 2020-12 check for task forms: a typo in a form is refused, the template using it left out', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE,
      'fragments/say-hello.yaml': FRAGMENT.replace(
        'task: { title: Say hello, role: agent }',
        'task: { title: Say hello, role: agent, form: { type: object, properties: { note: { type: string, maxLenght: 10 } } } }',
      ),
    });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'INVALID_DEFINITION', path: '/machine/states/greeting/meta/task/form', message: expect.stringContaining('maxLenght') }),
      expect.objectContaining({ code: 'INVALID_REFERENCE', path: '/defaultFragments/0' }),
    ]);
    expect(templates).toEqual([]);
  });

  it('2020-12 keywords are accepted in caseFileSchema and task forms', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace(
        'caseFileSchema:\n  type: object\n',
        'caseFileSchema:\n  type: object\n  properties:\n    pair: { type: array, prefixItems: [{ type: string }, { type: integer }] }\n  dependentRequired: { pair: [why] }\n  unevaluatedProperties: true\n',
      ),
      'fragments/say-hello.yaml': FRAGMENT.replace(
        'task: { title: Say hello, role: agent }',
        'task: { title: Say hello, role: agent, form: { type: object, properties: { pair: { type: array, prefixItems: [{ type: string }] } } } }',
      ),
    });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems).toEqual([]);
    expect(templates[0]!.caseFileSchema).toMatchObject({ dependentRequired: { pair: ['why'] } });
  });

  it('a template without discretionary fragments may leave the list out: it is []', async () => {
    const dir = await catalog({ 'hello.yaml': TEMPLATE.replace('discretionaryFragments: []\n', ''), 'fragments/say-hello.yaml': FRAGMENT });
    const { problems, templates } = await loadCatalog(dir);
    expect(problems).toEqual([]);
    expect(templates[0]!.discretionaryFragments).toEqual([]);
  });

  it('a fragment the validator rejects: pointer and line into the fragment, and templates using it are left out', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE,
      'fragments/say-hello.yaml': FRAGMENT.replace('COMPLETE: done', 'COMPLETE: finished'),
    });
    const { problems, templates, fragments } = await loadCatalog(dir);
    expect(only(problems, 'INVALID_DEFINITION')).toEqual([
      expect.objectContaining({
        file: path.join(dir, 'fragments', 'say-hello.yaml'),
        path: '/machine/states/greeting/on/COMPLETE',
        line: 13,
      }),
    ]);
    expect(problems.find((p) => p.code === 'INVALID_DEFINITION')!.message).toMatch(/Target "finished" does not exist/);
    expect(only(problems, 'INVALID_REFERENCE')).toEqual([
      expect.objectContaining({ file: path.join(dir, 'hello.yaml'), path: '/defaultFragments/0' }),
    ]);
    expect(fragments).toEqual([]);
    expect(templates).toEqual([]);
  });

  it('an unknown guard name in a fragment', async () => {
    const dir = await catalog({
      'fragments/say-hello.yaml': FRAGMENT.replace(
        'COMPLETE: done',
        'COMPLETE:\n          target: done\n          guard: { type: isVip }',
      ),
    });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'INVALID_DEFINITION', path: '/machine/states/greeting/on/COMPLETE/guard', line: 15 }),
    ]);
    expect(problems[0]!.message).toMatch(/Unknown guard "isVip"/);
  });

  it('a fragment file schema error (unknown state field) is located', async () => {
    const dir = await catalog({
      'fragments/say-hello.yaml': FRAGMENT.replace('      type: final\n', '      type: final\n      onDone: greeting\n'),
    });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'SCHEMA', path: '/machine/states/done/onDone', line: 16 }),
    ]);
  });

  it('a goal waiting for a milestone nobody declares or sets', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace(
        `condition: "'greeted' in milestones"`,
        `condition: "'greeted' in milestones && 'thanked' in milestones"`,
      ).replace('  - { key: greeted, title: Greeted }', '  - { key: greeted, title: Greeted }\n  - { key: waved, title: Waved }'),
      'other.yaml': TEMPLATE.replace('key: hello', 'key: other').replace(`'greeted' in milestones`, `'waved' in milestones`).replace(
        '  - { key: greeted, title: Greeted }',
        '  - { key: waved, title: Waved }',
      ),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    const refs = only(problems, 'INVALID_REFERENCE').map((p) => [path.basename(p.file), p.path, p.message]);
    expect(refs).toEqual(
      expect.arrayContaining([
        ['hello.yaml', '/goals/0/condition', expect.stringContaining('`thanked`, which is not declared')],
        ['other.yaml', '/goals/0/condition', expect.stringContaining('no default or discretionary fragment sets it')],
      ]),
    );
  });

  it('tasks for a role the template does not have', async () => {
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('roles: [agent]', 'roles: [supervisor]'),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([
      expect.objectContaining({
        code: 'INVALID_REFERENCE',
        path: '/defaultFragments/0',
        message: 'fragment say-hello@1 opens tasks for role `agent`, which is not in `roles`',
      }),
    ]);
  });

  it('SLAs must name a goal with a deadline and warn before it', async () => {
    const dir = await catalog({
      'hello.yaml': `${TEMPLATE}slas:\n  - { goal: greeted, warnBefore: PT2H }\n  - { goal: nope }\n`,
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ['/slas/0/warnBefore', 19],
      ['/slas/1/goal', 20],
    ]);
    expect(problems[0]!.message).toBe('warnBefore PT2H is not shorter than the deadline PT1H');
  });

  it('a deadline that starts at a milestone needs a deadline and a milestone a fragment sets', async () => {
    const goals = `  - key: answered
    title: Answered
    condition: "'greeted' in milestones"
    required: false
    deadlineFrom: { milestone: greeted }
  - key: followed_up
    title: Followed up
    condition: "'greeted' in milestones"
    required: false
    deadline: PT2H
    deadlineFrom: { milestone: waved }
milestones:
  - { key: greeted, title: Greeted }
  - { key: waved, title: Waved }
`;
    const dir = await catalog({
      'hello.yaml': TEMPLATE.replace('milestones:\n  - { key: greeted, title: Greeted }\n', goals),
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['/goals/1/deadlineFrom', 'goal `answered` starts its deadline at a milestone but has no `deadline`; add one (e.g. P2D)'],
      ['/goals/2/deadlineFrom/milestone', 'no default or discretionary fragment sets milestone `waved` (setMilestone), so the deadline would never start'],
    ]);
  });

  it('an escalation fragment must exist in the library', async () => {
    const dir = await catalog({
      'hello.yaml': `${TEMPLATE}slas:\n  - goal: greeted\n    onBreach:\n      - { action: startFragment, fragment: say-goodbye@1, queue: leads }\n      - { action: startFragment, fragment: say-hello@1 }\n`,
      'fragments/say-hello.yaml': FRAGMENT,
    });
    const { problems } = await loadCatalog(dir);
    expect(problems.map((p) => [p.code, p.path, p.line])).toEqual([['UNKNOWN_FRAGMENT', '/slas/0/onBreach/0/fragment', 21]]);
    expect(problems[0]!.message).toMatch(/say-goodbye@1/);
  });

  it('refuses files over the size limit unread', async () => {
    const dir = await catalog({ 'huge.yaml': `# ${'x'.repeat(1024 * 1024)}\n` });
    const { problems } = await loadCatalog(dir);
    expect(problems).toEqual([expect.objectContaining({ code: 'READ_FAILED', file: path.join(dir, 'huge.yaml') })]);
  });
});
