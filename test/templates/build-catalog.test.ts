import { describe, expect, it } from 'vitest';
import { buildCatalog, type CatalogDeps } from '../../src/templates/build-catalog.js';
import { defaultCatalogDeps } from '../../src/templates/load-catalog.js';

const fragment = JSON.stringify({
  key: 'wave',
  version: 1,
  title: 'Wave',
  machine: { id: 'wave', initial: 'a', states: { a: { on: { GO: 'b' } }, b: { type: 'final' } } },
});

describe('buildCatalog (no file system: the API can validate authored text with it)', () => {
  it('uses the injected fragment validator and reports its problems as JSON pointers', () => {
    const seen: unknown[] = [];
    const deps: CatalogDeps = {
      ...defaultCatalogDeps,
      validateFragmentDefinition: (def) => {
        seen.push(def);
        return { ok: false, problems: [{ path: 'machine.states.a.on.GO', message: 'refused by policy' }] };
      },
    };
    const result = buildCatalog([{ file: 'wave.json', kind: 'fragment', text: fragment }], deps);
    expect(seen).toEqual([JSON.parse(fragment)]);
    expect(result.problems).toEqual([
      {
        code: 'INVALID_DEFINITION',
        file: 'wave.json',
        path: '/machine/states/a/on/GO',
        line: 1,
        // the position of the value "b" in {"GO":"b"}
        column: fragment.indexOf('"GO":"b"') + '"GO":'.length + 1,
        message: 'refused by policy',
      },
    ]);
    expect(result.fragments).toEqual([]);
  });

  it('does not call the validator for a file that fails the file schema', () => {
    let calls = 0;
    const deps: CatalogDeps = {
      ...defaultCatalogDeps,
      validateFragmentDefinition: (def) => {
        calls++;
        return defaultCatalogDeps.validateFragmentDefinition(def);
      },
    };
    const result = buildCatalog([{ file: 'x.yaml', kind: 'fragment', text: 'key: Not Kebab\nversion: 0\n' }], deps);
    expect(calls).toBe(0);
    expect(result.problems.map((p) => p.path).sort()).toEqual(['/key', '/machine', '/title', '/version']);
  });
});
