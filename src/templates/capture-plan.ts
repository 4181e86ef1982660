/**
 * Capturing a plan: the next version of a template, drafted from the fragments a resolved case
 * actually used. Pure: the caller passes the case, the template's current (latest) version, the
 * definitions the case ran and what the library already holds, and gets a draft body back.
 *
 * What goes where (a process owner reviews the diff and edits before publishing):
 * - default fragments of the current version stay default, unless the case cancelled that
 *   fragment (by key): those move to the planning table (discretionary), offered but not started;
 * - library fragments the case added at runtime join the planning table (at the version the
 *   current template offers when it offers the key, else the version the case ran);
 * - inline and checklist fragments the case authored are promoted into the library as new
 *   fragment definitions (a key from their title, the next free version of that key; an identical
 *   definition already in the library is reused) and join the planning table;
 * - roles the promoted fragments' tasks need are added to `roles`.
 * Fragments cancelled before the case resolved are left out: the case did not use them (those
 * wound down by the resolution itself were used).
 */
import type { CaseState } from '../cases/types.js';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { canonicalHash } from './canonical-hash.js';
import { collectFragmentFacts } from './fragment-facts.js';
import type { CaseTemplate } from './types.js';

/** What a draft holds: the proposed template version and the library fragments it brings. */
export interface DraftBody {
  template: CaseTemplate;
  /** New library fragment definitions, published with the template. */
  fragments: FragmentDefinition[];
  /** How the draft came about, for the reviewer. */
  capture?: CaptureSummary;
}

export interface CaptureSummary {
  fromCase: string;
  caseTemplate: string;
  keptDefault: FragmentRef[];
  /** Default fragments the case cancelled: offered, no longer started at open. */
  movedToDiscretionary: FragmentRef[];
  addedDiscretionary: FragmentRef[];
  promoted: { from: FragmentRef; to: FragmentRef; title: string }[];
  addedRoles: string[];
}

export interface CaptureInput {
  case: CaseState;
  /** The template's latest version: the draft is the version after it. */
  current: CaseTemplate;
  /** Definitions of the case's fragments (library, inline, checklist), by ref. */
  definitionOf: (ref: FragmentRef) => FragmentDefinition | undefined;
  /** Highest stored version of a fragment key (library), 0 when none. */
  latestFragmentVersion: (key: string) => number;
  /** A stored library fragment with exactly this content, if any (reused rather than duplicated). */
  findIdentical: (definition: Omit<FragmentDefinition, 'version'>, hash: (d: unknown) => string) => FragmentRef | undefined;
}

const AUTHORED = /^(inline|checklist)-/;
const keyOf = (ref: FragmentRef) => ref.slice(0, ref.lastIndexOf('@'));

/** Kebab-case key from a title: `Call the supplier!` -> `call-the-supplier`; at most 48 characters. */
export function keyFromTitle(title: string): string {
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  const key = /^[a-z]/.test(slug) ? slug : `captured-${slug}`.replace(/-+$/, '');
  return key === 'captured' ? 'captured-fragment' : key;
}

export function capturePlan(input: CaptureInput): DraftBody {
  const { current } = input;
  // Resolving winds down what is still active (cancelled at the resolution time): that work was
  // part of the plan. Only a fragment cancelled before the case left `open` was dropped.
  const leftOpenAt = input.case.resolvedAt ?? input.case.closedAt;
  const dropped = (f: CaseState['fragments'][number]) => f.status === 'cancelled' && (leftOpenAt === undefined || f.endedAt === undefined || f.endedAt < leftOpenAt);
  const used = input.case.fragments.filter((f) => !dropped(f));
  const cancelledKeys = new Set(input.case.fragments.filter(dropped).map((f) => keyOf(f.definition)));

  const defaults = current.defaultFragments.filter((ref) => !cancelledKeys.has(keyOf(ref)) || used.some((f) => keyOf(f.definition) === keyOf(ref)));
  const moved = current.defaultFragments.filter((ref) => !defaults.includes(ref));
  const discretionary = [...current.discretionaryFragments, ...moved];
  const offeredKeys = () => new Set([...defaults, ...discretionary].map(keyOf));

  const added: FragmentRef[] = [];
  const promoted: CaptureSummary['promoted'] = [];
  const fragments: FragmentDefinition[] = [];
  const takenKeys = new Map<string, number>();
  for (const f of used) {
    if (!AUTHORED.test(f.definition)) {
      if (offeredKeys().has(keyOf(f.definition))) continue;
      discretionary.push(f.definition);
      added.push(f.definition);
      continue;
    }
    const authored = input.definitionOf(f.definition);
    if (!authored) continue;
    const title = f.title || authored.title;
    let key = keyFromTitle(title);
    // Two promoted fragments with the same title in one case get distinct keys.
    const seen = takenKeys.get(key) ?? 0;
    takenKeys.set(key, seen + 1);
    if (seen > 0) key = `${key}-${seen + 1}`;
    const candidate = {
      key,
      title,
      description: `Captured from case ${input.case.id} (${f.definition}).`,
      machine: authored.machine,
    };
    const identical = input.findIdentical(candidate, canonicalHash);
    const ref = identical ?? `${key}@${input.latestFragmentVersion(key) + 1}`;
    if (!identical) fragments.push({ ...candidate, version: Number(ref.slice(ref.lastIndexOf('@') + 1)) });
    if (!discretionary.includes(ref)) discretionary.push(ref);
    promoted.push({ from: f.definition, to: ref, title });
  }

  const roles = [...current.roles];
  const addedRoles: string[] = [];
  for (const definition of fragments) {
    for (const { task } of collectFragmentFacts(definition).tasks) {
      if (task.role !== undefined && !roles.includes(task.role)) {
        roles.push(task.role);
        addedRoles.push(task.role);
      }
    }
  }

  const template: CaseTemplate = {
    ...structuredClone(current),
    version: current.version + 1,
    defaultFragments: defaults,
    discretionaryFragments: discretionary,
    roles,
  };
  return {
    template,
    fragments,
    capture: {
      fromCase: input.case.id,
      caseTemplate: `${input.case.template.key}@${input.case.template.version}`,
      keptDefault: defaults,
      movedToDiscretionary: moved,
      addedDiscretionary: added,
      promoted,
      addedRoles,
    },
  };
}
