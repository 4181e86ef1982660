import { describe, expect, it } from 'vitest';
import type { FragmentDefinition } from '../../src/fragments/types.js';
import { canonicalHash, canonicalJson } from '../../src/templates/canonical-hash.js';
import { compareWithStored } from '../../src/templates/compare-with-stored.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import type { CaseTemplate } from '../../src/templates/types.js';

const template: CaseTemplate = {
  key: 'hello',
  version: 1,
  title: 'Hello',
  caseFileSchema: { type: 'object' },
  goals: [{ key: 'greeted', title: 'Greeted', condition: "'greeted' in milestones", required: true, deadline: 'PT1H' }],
  milestones: [{ key: 'greeted', title: 'Greeted' }],
  defaultFragments: ['say-hello@1'],
  discretionaryFragments: [],
  roles: ['agent'],
  resolution: 'auto',
};

const fragment: FragmentDefinition = {
  key: 'say-hello',
  version: 1,
  title: 'Say hello',
  machine: { id: 'say-hello', initial: 'a', states: { a: { on: { GO: 'b' } }, b: { type: 'final' } } },
};

/** Same data, keys in reverse order at every level. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)]));
}

describe('canonicalJson / canonicalHash', () => {
  it('sorts keys at every level and adds no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: true, e: null }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"e":null,"f":true}]},"b":1}',
    );
  });

  it('does not depend on key order', () => {
    expect(canonicalHash(reversed(template))).toBe(canonicalHash(template));
    expect(canonicalHash(template)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('skips undefined members like JSON.stringify, so unset optional fields do not count', () => {
    expect(canonicalHash({ ...template, description: undefined })).toBe(canonicalHash(template));
  });

  it('changes when any value changes, including array order', () => {
    expect(canonicalHash({ ...template, title: 'Hello!' })).not.toBe(canonicalHash(template));
    expect(canonicalHash({ ...template, roles: ['supervisor', 'agent'] })).not.toBe(
      canonicalHash({ ...template, roles: ['agent', 'supervisor'] }),
    );
  });

  it('refuses what JSON cannot hold instead of dropping it', () => {
    expect(() => canonicalJson({ amount: Number.NaN })).toThrow(/not a JSON number/);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });

  it('accepts shared (non-cyclic) references, as YAML aliases produce', () => {
    const shared = { type: 'setMilestone' };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"type":"setMilestone"},"b":{"type":"setMilestone"}}');
  });
});

describe('compareWithStored', () => {
  it('finds nothing when the stored versions are the same data', () => {
    expect(
      compareWithStored(
        { templates: [template], fragments: [fragment] },
        { templates: [reversed(template) as CaseTemplate], fragments: [fragment] },
      ),
    ).toEqual([]);
  });

  it('reports a template edited without a version bump, naming its file', () => {
    const problems = compareWithStored(
      {
        templates: [{ ...template, title: 'Hello there' }],
        fragments: [fragment],
        origins: [{ kind: 'template', ref: 'hello@1', file: 'case-templates/hello.yaml' }],
      },
      { templates: [template], fragments: [fragment] },
    );
    expect(problems).toEqual([
      {
        code: 'VERSION_CHANGED',
        file: 'case-templates/hello.yaml',
        path: '/version',
        message: 'template hello@1 differs from the stored version; bump `version` to publish a change',
      },
    ]);
  });

  it('reports a changed fragment against a stored hash only', () => {
    const edited: FragmentDefinition = {
      ...fragment,
      machine: { ...fragment.machine, states: { ...fragment.machine.states, a: { on: { GO: 'b', STOP: 'b' } } } },
    };
    const problems = compareWithStored(
      { templates: [], fragments: [edited] },
      { fragments: [{ key: 'say-hello', version: 1, hash: canonicalHash(fragment) }] },
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'VERSION_CHANGED', file: '<catalog>' });
    expect(problems[0]!.message).toContain('fragment say-hello@1 differs');
  });

  it('a bumped version is new, not a change; stored versions missing from the files are fine', () => {
    const problems = compareWithStored(
      { templates: [{ ...template, version: 2, title: 'Hello v2' }], fragments: [] },
      { templates: [template], fragments: [fragment] },
    );
    expect(problems).toEqual([]);
  });

  it('the shipped catalog compared with itself, then with one edited file', async () => {
    const loaded = await loadCatalog('case-templates');
    expect(compareWithStored(loaded, loaded)).toEqual([]);
    const stored = {
      templates: loaded.templates.map((t) =>
        t.key === 'billing-dispute' ? { ...t, goals: t.goals.map((g) => ({ ...g, deadline: 'P5D' })) } : t,
      ),
      fragments: loaded.fragments,
    };
    const problems = compareWithStored(loaded, stored);
    expect(problems.map((p) => [p.code, p.file])).toEqual([['VERSION_CHANGED', 'case-templates/billing-dispute.yaml']]);
  });
});
