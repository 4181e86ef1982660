/**
 * Capture a plan, review it, publish it: the template-draft use cases. Each runs in one
 * transaction (through the idempotent writer for the writes); publishing makes the new version
 * visible to this process at once and to every other process through `catalog_revision`.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CaseState } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { mergePatch } from '../json/merge-patch.js';
import { loadCase } from '../persistence/case-store.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import type { Database } from '../persistence/schema.js';
import {
  discardDraftRow,
  findDraft,
  insertDraft,
  latestStoredVersion,
  publishDraftRows,
  saveDraftBody,
  storedFragmentsByKey,
  type DraftRecord,
} from '../persistence/template-draft-store.js';
import { canonicalHash } from '../templates/canonical-hash.js';
import { capturePlan, keyFromTitle, type DraftBody } from '../templates/capture-plan.js';
import { defaultCatalogDeps } from '../templates/load-catalog.js';
import type { LoadProblem } from '../templates/load-problem.js';
import { diffTemplates, type Change } from '../templates/template-diff.js';
import type { CaseTemplate } from '../templates/types.js';
import { validateDraft } from '../templates/validate-draft.js';
import type { Catalog } from './catalog.js';
import type { CatalogSync } from './catalog-sync.js';

export interface TemplateDraftDeps {
  catalog: Catalog;
  catalogSync: CatalogSync;
  newId?: () => string;
}

const CAPTURABLE: ReadonlySet<CaseState['status']> = new Set(['resolved', 'closed']);
const keyOf = (ref: FragmentRef) => ref.slice(0, ref.lastIndexOf('@'));

export function createTemplateDrafts(deps: TemplateDraftDeps) {
  const newId = deps.newId ?? (() => `tdr_${randomUUID()}`);

  async function currentTemplate(db: Kysely<Database>, key: string): Promise<CaseTemplate> {
    await deps.catalogSync.sync(db);
    const current = deps.catalog.template(key);
    if (!current) throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${key}; GET /v1/templates lists them`);
    return current;
  }

  /** The same checks as a template file at load, against the library as this process holds it. */
  function problemsOf(body: DraftBody): LoadProblem[] {
    return validateDraft(body, (ref) => deps.catalog.fragment(ref), defaultCatalogDeps);
  }

  /** Drafts the version after the current one: from a resolved case's plan, or a copy to edit. */
  async function create(db: Kysely<Database>, input: { templateKey: string; fromCaseId?: string; actorId: string }): Promise<DraftRecord> {
    const current = await currentTemplate(db, input.templateKey);
    let body: DraftBody;
    if (input.fromCaseId !== undefined) {
      const state = await loadCase(db, input.fromCaseId);
      if (!state) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${input.fromCaseId}`);
      if (state.template.key !== input.templateKey) {
        throw new TesseraError('VALIDATION_FAILED', `Case ${state.id} is a ${state.template.key} case, not ${input.templateKey}; capture it into POST /v1/templates/${state.template.key}/drafts`, {
          errors: [{ pointer: '/from_case', detail: `is a case of template ${state.template.key}` }],
        });
      }
      if (!CAPTURABLE.has(state.status)) {
        throw new TesseraError('CASE_NOT_RESOLVED', `Case ${state.id} is ${state.status}; capture its plan once it is resolved or closed (a cancelled case did not work)`);
      }
      body = await captureFrom(db, state, current);
    } else {
      body = { template: { ...structuredClone(current), version: current.version + 1 }, fragments: [] };
    }
    // A version stored but not yet in this catalog (a file version the catalog left out) still counts.
    const stored = await latestStoredVersion(db, 'template', input.templateKey);
    body.template.version = Math.max(body.template.version, stored + 1);
    return insertDraft(db, { id: newId(), templateKey: input.templateKey, baseVersion: current.version, fromCaseId: input.fromCaseId ?? null, body, createdBy: input.actorId });
  }

  async function captureFrom(db: Kysely<Database>, state: CaseState, current: CaseTemplate): Promise<DraftBody> {
    const refs = [...new Set(state.fragments.map((f) => f.definition))];
    const missing = refs.filter((ref) => !deps.catalog.fragment(ref));
    const loaded = new Map<FragmentRef, FragmentDefinition>();
    for (const d of await loadFragmentDefinitions(db, missing)) loaded.set(`${d.key}@${d.version}`, d);
    const definitionOf = (ref: FragmentRef) => deps.catalog.fragment(ref) ?? loaded.get(ref);
    // What the library holds under the keys promoted fragments would take.
    const candidateKeys = state.fragments.filter((f) => /^(inline|checklist)-/.test(f.definition)).map((f) => keyFromTitle(f.title || definitionOf(f.definition)?.title || ''));
    const stored = await storedFragmentsByKey(db, candidateKeys.flatMap((k) => [k, ...[2, 3, 4].map((n) => `${k}-${n}`)]));
    return capturePlan({
      case: state,
      current,
      definitionOf,
      latestFragmentVersion: (key) => Math.max(0, ...stored.filter((d) => d.key === key).map((d) => d.version)),
      findIdentical: (candidate, hash) => {
        // Same title and machine: the description names the case it came from.
        const want = hash({ title: candidate.title, machine: candidate.machine });
        const same = stored.find((d) => d.key === candidate.key && hash({ title: d.title, machine: d.machine }) === want);
        return same ? `${same.key}@${same.version}` : undefined;
      },
    });
  }

  /** Edits a draft: `template` is a JSON merge patch; `fragments` replaces the new fragments. */
  async function patch(
    db: Kysely<Database>,
    input: { id: string; expectedRevision: number | undefined; template?: Record<string, unknown>; fragments?: unknown[] },
  ): Promise<DraftRecord> {
    const draft = await editable(db, input.id, input.expectedRevision, true);
    const template = input.template === undefined ? draft.body.template : (mergePatch(draft.body.template, input.template) as CaseTemplate);
    for (const field of ['key', 'version'] as const) {
      if (template[field] !== draft.body.template[field]) {
        throw new TesseraError('VALIDATION_FAILED', `A draft's template ${field} is fixed (${draft.body.template[field]}); create a new draft for another ${field === 'key' ? 'template' : 'version'}`, {
          errors: [{ pointer: `/template/${field}`, detail: `must stay ${JSON.stringify(draft.body.template[field])}` }],
        });
      }
    }
    const body: DraftBody = { ...draft.body, template, fragments: (input.fragments ?? draft.body.fragments) as FragmentDefinition[] };
    await saveDraftBody(db, draft.id, body);
    return (await findDraft(db, draft.id))!;
  }

  async function editable(db: Kysely<Database>, id: string, expectedRevision: number | undefined, required: boolean): Promise<DraftRecord> {
    const draft = await findDraft(db, id, { lock: true });
    if (!draft) throw new TesseraError('DRAFT_NOT_FOUND', `No template draft has id ${id}`);
    if (draft.status !== 'draft') throw new TesseraError('DRAFT_NOT_EDITABLE', `Draft ${id} is ${draft.status}; create a new draft to change the template again`);
    if (expectedRevision === undefined && required) {
      throw new TesseraError('DRAFT_PRECONDITION_REQUIRED', `Send If-Match: "v${draft.revision}" (the ETag of GET /v1/template-drafts/${id}) so that edits made meanwhile are not lost`);
    }
    if (expectedRevision !== undefined && expectedRevision !== draft.revision) {
      throw new TesseraError('DRAFT_VERSION_MISMATCH', `Draft ${id} is at revision ${draft.revision}, not ${expectedRevision}; reload it and apply your edit again`, { current_revision: draft.revision });
    }
    return draft;
  }

  /**
   * Publishes a draft as an immutable version: refused when it has problems, when its version
   * was published meanwhile (make a new draft), or when a new fragment's key@version exists with
   * other content. Returns the published template; `afterCommit` makes this process see it.
   */
  async function publish(db: Kysely<Database>, input: { id: string; expectedRevision: number | undefined; actorId: string }) {
    const draft = await editable(db, input.id, input.expectedRevision, false);
    await deps.catalogSync.sync(db);
    const problems = problemsOf(draft.body);
    if (problems.length > 0) {
      throw new TesseraError('DRAFT_INVALID', `Draft ${draft.id} has ${problems.length} problem(s); fix them with PATCH /v1/template-drafts/${draft.id} (see problems)`, { problems: problems.map(problemView) });
    }
    const latest = await latestStoredVersion(db, 'template', draft.templateKey);
    if (latest >= draft.body.template.version) {
      throw new TesseraError('TEMPLATE_VERSION_TAKEN', `${draft.templateKey}@${draft.body.template.version} was published after this draft was made (latest is @${latest}); create a new draft from the current version`, { latest_version: latest });
    }
    const { conflicts } = await publishDraftRows(db, { draftId: draft.id, body: draft.body, by: input.actorId });
    if (conflicts.length > 0) {
      throw new TesseraError('TEMPLATE_VERSION_TAKEN', `Already published with other content: ${conflicts.map((c) => c.ref).join(', ')}; give the new fragments a higher version in the draft`, { conflicts: conflicts.map((c) => c.ref) });
    }
    return {
      template: draft.body.template,
      fragments: draft.body.fragments.map((f) => `${f.key}@${f.version}`),
      // This process sees it at once; the others at their next revision check.
      afterCommit: () => deps.catalog.add({ templates: [draft.body.template], fragments: draft.body.fragments }),
    };
  }

  /**
   * Discards a draft: it can no longer be edited or published, and stays listed as discarded.
   * A published draft cannot be discarded (its version is immutable and may run cases).
   */
  async function discard(db: Kysely<Database>, input: { id: string; expectedRevision: number | undefined }): Promise<DraftRecord> {
    const draft = await editable(db, input.id, input.expectedRevision, false);
    await discardDraftRow(db, draft.id);
    return (await findDraft(db, draft.id))!;
  }

  /** The draft against the template's current version (or the version it was drafted after, if newer ones were published). */
  async function diff(db: Kysely<Database>, id: string): Promise<{ against: string; changes: Change[]; newFragments: FragmentRef[]; hash: string }> {
    const draft = await findDraft(db, id);
    if (!draft) throw new TesseraError('DRAFT_NOT_FOUND', `No template draft has id ${id}`);
    const current = await currentTemplate(db, draft.templateKey);
    const against = draft.status === 'published' ? (deps.catalog.template(draft.templateKey, draft.baseVersion) ?? current) : current;
    const comparable = { ...draft.body.template, version: against.version };
    return {
      against: `${against.key}@${against.version}`,
      changes: diffTemplates(against, comparable),
      newFragments: draft.body.fragments.map((f) => `${f.key}@${f.version}`),
      hash: canonicalHash(draft.body),
    };
  }

  return { create, patch, publish, discard, diff, problemsOf };
}

export type TemplateDrafts = ReturnType<typeof createTemplateDrafts>;

export function problemView(p: LoadProblem) {
  return { code: p.code, file: p.file, pointer: p.path, ...(p.line !== undefined ? { line: p.line, column: p.column } : {}), detail: p.message };
}

export { keyOf as fragmentKeyOf };
