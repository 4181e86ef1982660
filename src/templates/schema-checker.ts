/**
 * Ajv for two jobs: checking documents against the published file schemas (errors as JSON
 * pointers with messages that say the fix), and checking that schemas written by authors
 * (`caseFileSchema`) are themselves valid draft 2020-12 JSON Schema — the one setup in
 * json-schema/author-schemas.ts, which the fragment validator (task forms) and the engine share.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { checkAuthorSchema } from '../json-schema/author-schemas.js';
import { FragmentFileSchema } from './fragment-file-schema.js';
import { joinPointer, splitPointer } from './parse-source.js';
import { TemplateFileSchema } from './template-file-schema.js';

export interface SchemaIssue {
  path: string;
  message: string;
  /** The problem is the property name itself (unknown property): point at the key. */
  atKey?: boolean;
}

export interface SchemaChecker {
  checkTemplate(value: unknown): SchemaIssue[];
  checkFragment(value: unknown): SchemaIssue[];
  /**
   * Why `schema` is not a usable draft 2020-12 JSON Schema (paths relative to the schema);
   * empty when Ajv compiles it. Unknown keywords and formats count as mistakes.
   */
  checkJsonSchema(schema: unknown): SchemaIssue[];
}

// Compiling the two file schemas costs more than checking a whole catalog; the compiled
// functions are immutable, so they are built once per process, on first use.
let fileValidators: { template: ValidateFunction; fragment: ValidateFunction } | undefined;

function compileFileValidators(): { template: ValidateFunction; fragment: ValidateFunction } {
  if (fileValidators === undefined) {
    // verbose: errors carry parentSchema, which lets "unknown property" list the allowed ones.
    const files = new Ajv2020({ allErrors: true, strict: true, verbose: true });
    fileValidators = { template: files.compile(TemplateFileSchema), fragment: files.compile(FragmentFileSchema) };
  }
  return fileValidators;
}

export function createSchemaChecker(): SchemaChecker {
  const { template, fragment } = compileFileValidators();
  return {
    checkTemplate: (value) => run(template, value),
    checkFragment: (value) => run(fragment, value),
    checkJsonSchema(schema) {
      // The same check (dialect, strictness) as task forms and the engine: json-schema/author-schemas.ts.
      const check = checkAuthorSchema(schema);
      if (check.ok) return [];
      return check.message === undefined ? summarize(check.errors) : [{ path: '', message: check.message }];
    },
  };
}

function run(validate: ValidateFunction, value: unknown): SchemaIssue[] {
  if (validate(value)) return [];
  return summarize(validate.errors ?? []);
}

/**
 * Ajv reports every branch of a failed `anyOf`: for `priority: hgh` four "must be equal to
 * constant"; for an action written as an object, "must be string" from the shorthand branch
 * next to the real mistake. For each `anyOf`, keep only the errors of the branch that came
 * closest (the fewest errors, counting a wrong type or a wrong constant — a wrong kind of
 * thing — as far away), and say "must be one of" when no branch came close.
 */
export function summarize(errors: readonly ErrorObject[]): SchemaIssue[] {
  const dropped = new Set<ErrorObject>();
  const unions = errors.filter((e) => e.keyword === 'anyOf');
  // Inner unions first, so an outer union scores its branches on what is left of them.
  unions.sort((a, b) => b.instancePath.length - a.instancePath.length);
  const unionIssues = new Map<ErrorObject, SchemaIssue>();
  for (const union of unions) {
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (e === union || dropped.has(e)) continue;
      if (!e.schemaPath.startsWith(union.schemaPath + '/')) continue;
      if (e.instancePath !== union.instancePath && !e.instancePath.startsWith(union.instancePath + '/')) continue;
      const branch = e.schemaPath.slice(union.schemaPath.length + 1).split('/')[0] ?? '';
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const score = (list: ErrorObject[]) =>
      list.reduce((sum, e) => sum + (e.keyword === 'type' || e.keyword === 'const' ? 1000 : 1), 0);
    let best: ErrorObject[] | undefined;
    for (const list of branches.values()) if (!best || score(list) < score(best)) best = list;
    for (const list of branches.values()) if (list !== best) list.forEach((e) => dropped.add(e));
    if (!best || score(best) >= 1000) {
      best?.forEach((e) => dropped.add(e));
      unionIssues.set(union, { path: union.instancePath, message: anyOfMessage(union) });
    }
  }
  const issues = errors
    .filter((e) => !dropped.has(e))
    .flatMap((e) => {
      if (e.keyword !== 'anyOf') return [toIssue(e)];
      const issue = unionIssues.get(e);
      return issue ? [issue] : [];
    });
  return dedupe(issues);
}

function toIssue(e: ErrorObject): SchemaIssue {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return {
        path: joinPointer([...splitPointer(e.instancePath), String(params.missingProperty)]),
        message: `required property \`${String(params.missingProperty)}\` is missing`,
      };
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return {
        path: joinPointer([...splitPointer(e.instancePath), String(params.additionalProperty)]),
        atKey: true,
        message:
          `unknown property \`${String(params.additionalProperty)}\`` +
          (allowed.length > 0 ? `; allowed here: ${allowed.join(', ')}` : ''),
      };
    }
    case 'pattern':
      return { path: e.instancePath, message: `${describe(e)}${JSON.stringify(e.data)} does not match ${String(params.pattern)}` };
    default:
      return { path: e.instancePath, message: `${describe(e)}${e.message ?? 'is invalid'}` };
  }
}

function describe(e: ErrorObject): string {
  const description = (e.parentSchema as { description?: unknown } | undefined)?.description;
  return typeof description === 'string' && e.keyword === 'pattern' ? `(${description}) ` : '';
}

function anyOfMessage(e: ErrorObject): string {
  const options = ((e.schema as unknown[] | undefined) ?? [])
    .map((s) => (s as { const?: unknown }).const)
    .filter((c) => c !== undefined);
  if (options.length > 0) return `must be one of: ${options.map((o) => JSON.stringify(o)).join(', ')}`;
  return 'has the wrong shape; see the published schema';
}

function dedupe(issues: SchemaIssue[]): SchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
