/**
 * What is wrong with a catalog file, said so that the author can fix it: the file, a JSON
 * pointer into the document, the line and column when the file has them, and the fix.
 */

export const LOAD_PROBLEM_CODES = [
  /** The file could not be read. */
  'READ_FAILED',
  /** YAML or JSON syntax; always has line and column. */
  'SYNTAX',
  /** The document does not match the published file schema. */
  'SCHEMA',
  /** `caseFileSchema` or a task form is not a valid JSON Schema. */
  'INVALID_JSON_SCHEMA',
  /** A CEL condition does not compile. */
  'INVALID_EXPRESSION',
  /** The fragment validator rejected the machine. */
  'INVALID_DEFINITION',
  /** A default or discretionary fragment ref names no fragment in the catalog. */
  'UNKNOWN_FRAGMENT',
  /** Two files define the same key@version. */
  'DUPLICATE',
  /** Any other cross-reference inside a template (goal keys, SLAs, milestones). */
  'INVALID_REFERENCE',
  /** A business calendar with an unknown zone, an interval that closes before it opens, a date that does not exist. */
  'INVALID_CALENDAR',
  /** An intake rule that cannot work: attach without a threading key, a rule an earlier one always shadows, an option with no effect. */
  'INVALID_INTAKE_RULE',
  /** A `priority:` section or `escalations:` threshold that makes no sense (negative weight, thresholds not increasing). */
  'INVALID_PRIORITY',
  /** A `deviation:` block whose thresholds make no sense (k <= 1, minEvents < 2, an unknown activity kind). */
  'INVALID_DEVIATION',
  /** Sentries that start and exit fragments in a circle (A starts on what B does, B exits on what A does). */
  'SENTRY_LOOP',
  /** A published key@version was edited instead of bumped. */
  'VERSION_CHANGED',
] as const;

export type LoadProblemCode = (typeof LOAD_PROBLEM_CODES)[number];

export interface LoadProblem {
  code: LoadProblemCode;
  /** File path as given to the loader (relative to the catalog dir when loaded from disk). */
  file: string;
  /** JSON pointer into the document (`/goals/0/condition`); `''` for the whole file. */
  path: string;
  /** 1-based, when the position is known. */
  line?: number;
  column?: number;
  message: string;
}

/**
 * One problem per line, `file:line:col path: message`, in file then line order; the
 * position and the path are left out when unknown.
 */
export function formatProblems(problems: readonly LoadProblem[]): string {
  return sortProblems(problems)
    .map((p) => {
      const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
      const path = p.path === '' ? '' : ` ${p.path}`;
      return `${where}${path}: ${p.message}`;
    })
    .join('\n');
}

/** Stable order: by file, then line (unknown lines last), then path. Returns a new array. */
export function sortProblems(problems: readonly LoadProblem[]): LoadProblem[] {
  return [...problems].sort(
    (a, b) =>
      compareStrings(a.file, b.file) ||
      (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      compareStrings(a.path, b.path),
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
