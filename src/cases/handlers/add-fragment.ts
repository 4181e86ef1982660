import type { FragmentDefinition, FragmentRef } from '../../fragments/types.js';
import { compiledFor, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { startFragment } from '../start-fragment.js';
import type { Command } from '../types.js';

type AddFragment = Extract<Command, { type: 'fragment.add' }>;

/**
 * Assembles a fragment into the case:
 * - `library`: a ref the template offers (discretionary or default), resolved from the library;
 * - `inline`: a definition authored now, validated, stored as `inline-<fragmentId>@1`
 *   (any `key` the caller sent is replaced: the instance owns its definition);
 * - `checklist`: a sequential checklist built from step titles, stored as `checklist-<fragmentId>@1`.
 */
export function addFragment(d: Draft, command: AddFragment): Record<string, unknown> {
  const id = d.ctx.newId();
  const { source } = command;
  let ref: FragmentRef;
  let title: string | undefined;
  if (source.kind === 'library') {
    ref = source.ref;
    const offered = [...d.ctx.template.discretionaryFragments, ...d.ctx.template.defaultFragments];
    if (!offered.includes(ref)) {
      reject('FRAGMENT_NOT_DISCRETIONARY', `Template ${d.ctx.template.key}@${d.ctx.template.version} does not offer "${ref}"; pick one of its discretionary fragments.`, {
        ref,
        offered: d.ctx.template.discretionaryFragments,
      });
    }
  } else if (source.kind === 'inline' || source.kind === 'checklist') {
    const authored: unknown =
      source.kind === 'inline'
        ? { ...source.definition, key: `inline-${id}`, version: 1 }
        : d.engine.services.buildChecklist(source.title, source.steps, `checklist-${id}`);
    if (source.kind === 'checklist') title = source.title;
    const definition = checkDefinition(d, authored);
    ref = `${definition.key}@${definition.version}`;
    d.effects.push({ type: 'definition.store', definition });
    d.engine.cache.fragments.set(ref, compileAuthored(d, definition));
  } else {
    return reject('VALIDATION_FAILED', `Fragment source kind "${(source as { kind?: unknown }).kind}" is unknown; use library, inline or checklist.`);
  }
  const options = { id, ref, compiled: compiledFor(d, ref), source: source.kind };
  const f = startFragment(d, {
    ...options,
    ...(title !== undefined ? { title } : {}),
    ...(command.assignment ? { assignment: command.assignment } : {}),
  });
  return { fragmentId: f.id, definition: ref };
}

function checkDefinition(d: Draft, authored: unknown): FragmentDefinition {
  const check = d.engine.services.validateDefinition(authored);
  if (!check.ok) {
    const summary = check.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    reject('INVALID_DEFINITION', `The fragment definition is invalid: ${summary}`, { problems: check.problems });
  }
  return check.definition;
}

function compileAuthored(d: Draft, definition: FragmentDefinition) {
  try {
    return d.engine.services.compileFragment(definition);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return reject('INVALID_DEFINITION', `The fragment definition does not compile: ${message}`, {
      problems: [{ path: '/machine', message }],
    });
  }
}
