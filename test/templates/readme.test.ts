/**
 * case-templates/README.md shows guards, actions and fragments as the registry and the
 * validator really take them: a renamed param or a wrong example fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ACTIONS, GUARDS, checkParams, isActionName, isGuardName } from '../../src/fragments/registry.js';
import { validateFragmentDefinition } from '../../src/fragments/validate-definition.js';

const README = readFileSync(path.resolve(import.meta.dirname, '../../case-templates/README.md'), 'utf8');
const fragmentSection = README.slice(README.indexOf('## A fragment'), README.indexOf('## Versions'));

interface Shown {
  /** Param names, `?` stripped. */
  params: string[];
  optional: string[];
  /** `c: { d }`: what the doc shows inside an object param. */
  nested: Record<string, Shown>;
}

/** Parses `{ a, b?, c | d, e: { f } }` (the braces included). */
function parseShape(body: string): Shown {
  const parts: string[] = [];
  let level = 0;
  let current = '';
  for (const ch of body.trim().slice(1, -1)) {
    if (ch === '{') level++;
    if (ch === '}') level--;
    if (level === 0 && ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const shown: Shown = { params: [], optional: [], nested: {} };
  for (const part of parts.flatMap((p) => (p.includes('{') ? [p] : p.split('|')))) {
    const colon = part.indexOf(':');
    const raw = (colon < 0 ? part : part.slice(0, colon)).trim();
    if (raw === '') continue;
    const name = raw.replace(/\?$/, '');
    shown.params.push(name);
    if (raw.endsWith('?')) shown.optional.push(name);
    if (colon >= 0) shown.nested[name] = parseShape(part.slice(colon + 1));
  }
  return shown;
}

/** `` `name { ... }` `` spans in `text`. */
function signatures(text: string): { name: string; shown: Shown }[] {
  const out: { name: string; shown: Shown }[] = [];
  for (const match of text.matchAll(/`(\w+) \{/g)) {
    let depth = 0;
    let body = '';
    for (const ch of text.slice(match.index! + match[0].length - 1)) {
      body += ch;
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
      if (depth === 0) break;
    }
    out.push({ name: match[1]!, shown: parseShape(body) });
  }
  return out;
}

type ObjectSchema = { properties?: Record<string, ObjectSchema>; required?: readonly string[] };

/** The doc shows exactly the schema's properties, required ones not as optional, objects with their fields. */
function expectShown(where: string, shown: Shown, schema: ObjectSchema): void {
  expect(shown.params.sort(), where).toEqual(Object.keys(schema.properties ?? {}).sort());
  for (const required of schema.required ?? []) expect(shown.optional, `${where}.${required} is required`).not.toContain(required);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    if (sub.properties === undefined) continue;
    expect(shown.nested[name], `${where}.${name}: show its fields, { ${Object.keys(sub.properties).join(', ')} }`).toBeDefined();
    expectShown(`${where}.${name}`, shown.nested[name]!, sub);
  }
}

describe('case-templates/README.md', () => {
  const listed = signatures(fragmentSection.slice(0, fragmentSection.indexOf('```yaml')));

  it('lists every registered guard and action', () => {
    expect(listed.map((s) => s.name).sort()).toEqual([...Object.keys(GUARDS), ...Object.keys(ACTIONS)].sort());
  });

  it.each(signatures(fragmentSection.slice(0, fragmentSection.indexOf('```yaml'))).map((s) => [s.name, s] as const))(
    '%s: the params it shows are the registry params',
    (name, sig) => {
      const entry = isGuardName(name) ? GUARDS[name] : isActionName(name) ? ACTIONS[name] : undefined;
      expect(entry, `${name} is not in the registry`).toBeDefined();
      expectShown(name, sig.shown, entry!.params as ObjectSchema);
    },
  );

  it('inline action examples pass the registry check', () => {
    const examples = [...fragmentSection.matchAll(/`(\{ type: \w+, params: .*?\} \})`/g)].map((m) => parse(m[1]!) as { type: string; params: unknown });
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      expect(isActionName(example.type), example.type).toBe(true);
      expect(checkParams('action', example.type as keyof typeof ACTIONS, example.params)).toEqual([]);
    }
  });

  it('every fragment in a yaml block is a valid definition', () => {
    const blocks = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
    const fragments = blocks.filter((b) => 'machine' in b);
    expect(fragments.length).toBeGreaterThan(0);
    for (const fragment of fragments) {
      const result = validateFragmentDefinition(fragment);
      expect(result.ok ? [] : result.problems).toEqual([]);
    }
  });
});
