import type { Draft } from './draft.js';
import { reject } from './rejection.js';
import { schemaProblems, validatorFor, type SchemaProblem } from './schema-validation.js';

/** One value a fragment action wrote into the case file during the current decision. */
export interface CaseFileWrite {
  /** JSON pointer of the written field, e.g. `/survey/score`. */
  pointer: string;
  /** The action's dotted path, e.g. `survey.score`. */
  path: string;
  fragmentId: string;
  /** The fragment's definition, `key@version`. */
  definition: string;
  action: 'assignCaseFile';
}

/** A field the decision would leave invalid, and which writes of the decision touched it. */
export interface CaseFileProblem extends SchemaProblem {
  in: 'case_file';
  written_by: { fragment_id: string; definition: string; action: string; path: string }[];
}

/** Records a fragment action's write; `checkCaseFile` looks at the case file only when there is one. */
export function recordCaseFileWrite(d: Draft, write: Omit<CaseFileWrite, 'pointer'>): void {
  d.caseFileWrites.push({ ...write, pointer: `/${write.path.split('.').join('/')}` });
}

/**
 * Whatever fragment action wrote into the case file in this decision (an event's or a task
 * output's `assignCaseFile`, entry actions of a state a timer or an escalation entered, a new
 * fragment's first step), the case file must still match the template's `caseFileSchema`.
 * Validated only when something was written, with the validator compiled once per template
 * version (`template:<key>@<version>` in the engine cache).
 *
 * Problems the case file already had before the command (data stored before this check
 * existed) are not the command's doing and do not block it; every new one is reported.
 * Returns [] when the case file is fine.
 */
export function caseFileProblems(d: Draft): CaseFileProblem[] {
  if (d.caseFileWrites.length === 0) return [];
  const { template } = d.ctx;
  const validate = validatorFor(d, `template:${template.key}@${template.version}`, template.caseFileSchema);
  if (validate(d.case.caseFile)) return [];
  let problems = schemaProblems(validate.errors);
  // Rare path from here on: a refusal. Old problems are those the input case file had too.
  const before = d.before?.caseFile;
  if (before !== undefined && !validate(before)) {
    const old = new Set(schemaProblems(validate.errors).map(keyOf));
    problems = problems.filter((p) => !old.has(keyOf(p)));
  }
  return problems.map((p) => ({ ...p, in: 'case_file' as const, written_by: writersOf(d, p.pointer) }));
}

/** Refuses the whole command with CASE_FILE_WRITE_INVALID when `caseFileProblems` finds any. */
export function checkCaseFile(d: Draft, what: string): void {
  const problems = caseFileProblems(d);
  if (problems.length === 0) return;
  reject('CASE_FILE_WRITE_INVALID', `${what} would leave the case file invalid against template ${d.ctx.template.key}@${d.ctx.template.version}: ${describeCaseFileProblems(problems)}. Nothing was changed; send data that fits the schema (or fix the fragment's actions).`, {
    errors: problems,
  });
}

export function describeCaseFileProblems(problems: CaseFileProblem[]): string {
  return problems
    .map((p) => {
      const by = p.written_by.map((w) => `${w.action} ${w.path} of fragment ${w.definition} (${w.fragment_id})`).join(', ');
      return `${p.pointer} ${p.detail}${by === '' ? '' : ` (written by ${by})`}`;
    })
    .join('; ');
}

function keyOf(p: SchemaProblem): string {
  return `${p.pointer}\u0000${p.detail}`;
}

/**
 * The writes that touched the field: the field itself, inside it, or an ancestor of it. A
 * problem no write touches directly (an `if`/`then` reacting elsewhere) names every write.
 */
function writersOf(d: Draft, pointer: string): CaseFileProblem['written_by'] {
  const related = (w: CaseFileWrite) => isWithin(pointer, w.pointer) || isWithin(w.pointer, pointer);
  const touched = d.caseFileWrites.filter(related);
  const writes = touched.length > 0 ? touched : d.caseFileWrites;
  const seen = new Set<string>();
  const out: CaseFileProblem['written_by'] = [];
  for (const w of writes) {
    const key = `${w.fragmentId}\u0000${w.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ fragment_id: w.fragmentId, definition: w.definition, action: w.action, path: w.path });
  }
  return out;
}

/** `inner` is `outer` or below it (`/` is the root). */
function isWithin(inner: string, outer: string): boolean {
  if (outer === '/' || outer === '') return true;
  return inner === outer || inner.startsWith(`${outer}/`);
}
