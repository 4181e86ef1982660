/**
 * A draft is checked exactly as a catalog file is at load (`buildCatalog`): the draft template
 * and its new fragments, plus the library fragments it references, go through the same schema,
 * machine, CEL and cross-reference checks. Pure; the caller resolves library refs.
 */
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { buildCatalog, type CatalogDeps, type SourceFile } from './build-catalog.js';
import type { DraftBody } from './capture-plan.js';
import type { LoadProblem } from './load-problem.js';
import type { CaseTemplate } from './types.js';

/** Every fragment ref a template names: defaults, planning table, escalation fragments. */
export function fragmentRefsOf(t: CaseTemplate): FragmentRef[] {
  const refs = new Set<FragmentRef>([...(t.defaultFragments ?? []), ...(t.discretionaryFragments ?? [])]);
  for (const sla of t.slas ?? []) for (const e of [...(sla.onWarning ?? []), ...(sla.onBreach ?? [])]) if (e.action === 'startFragment') refs.add(e.fragment);
  for (const esc of t.escalations ?? []) for (const e of esc.actions ?? []) if (e.action === 'startFragment') refs.add(e.fragment);
  return [...refs];
}

export const DRAFT_TEMPLATE_FILE = 'draft/template';
export const draftFragmentFile = (i: number) => `draft/fragments/${i}`;

/**
 * Problems of a draft (empty: publishable as far as its content goes). Problems in the draft's
 * own documents name `draft/template` or `draft/fragments/<index>`.
 */
export function validateDraft(body: DraftBody, library: (ref: FragmentRef) => FragmentDefinition | undefined, deps: CatalogDeps): LoadProblem[] {
  const files: SourceFile[] = [{ file: DRAFT_TEMPLATE_FILE, kind: 'template', text: JSON.stringify(body.template) }];
  body.fragments.forEach((f, i) => files.push({ file: draftFragmentFile(i), kind: 'fragment', text: JSON.stringify(f) }));
  const own = new Set(body.fragments.map((f) => `${f?.key}@${f?.version}`));
  const refs = body.template && typeof body.template === 'object' ? fragmentRefsOf(body.template) : [];
  for (const ref of refs) {
    if (own.has(ref)) continue;
    const definition = library(ref);
    if (definition) files.push({ file: `library/${ref}`, kind: 'fragment', text: JSON.stringify(definition) });
  }
  return buildCatalog(files, deps).problems;
}
