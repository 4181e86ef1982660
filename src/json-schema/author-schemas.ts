/**
 * The one JSON Schema setup for schemas that authors write — a template's `caseFileSchema` and
 * task forms — used by every part that reads them: the template loader (is it a usable schema?),
 * the fragment validator (task forms of library, inline and checklist fragments) and the case
 * engine (the case file after every change, task outputs). One dialect, JSON Schema draft
 * 2020-12 (`ajv/dist/2020`), so a keyword the loader accepts (`prefixItems`,
 * `dependentRequired`, `unevaluatedProperties`, ...) is the keyword the engine enforces.
 *
 * Checking is strict: an unknown keyword or format is a mistake (a typo such as `maxLenght`
 * would silently drop a constraint), `$schema` other than 2020-12 is refused. Annotations
 * 2020-12 defines (`title`, `description`, `examples`, `default`, `deprecated`, `readOnly`,
 * `writeOnly`, `$comment`) are fine for UI hints.
 *
 * Validating data never coerces, never fills defaults and never drops unknown fields.
 * No I/O: usable from the pure core (src/cases, src/fragments).
 */
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext the default import is `module.exports`, the plugin.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export const AUTHOR_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

const OPTIONS: Options = {
  allErrors: true,
  // Lenient about style only: `properties` without `type: object`, tuples without maxItems.
  strictTypes: false,
  strictTuples: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
};

/**
 * An Ajv instance for validating data against author schemas. Its schemas are checked (by
 * `checkAuthorSchema`) before they are stored, so it compiles them without strict mode: a
 * definition stored before a check became stricter still runs — with the same semantics for
 * every keyword 2020-12 defines — instead of failing at a task completion.
 */
export function createAuthorSchemaAjv(): Ajv2020 {
  return addFormats(new Ajv2020({ ...OPTIONS, strict: false, logger: false }));
}

export type AuthorSchemaCheck =
  | { ok: true }
  /** `errors`: the meta-schema's (paths inside the schema); `message`: Ajv's compile error. */
  | { ok: false; errors: ErrorObject[]; message?: string };

// Checking compiles and forgets: one instance per mode serves every check.
const checkers: Partial<Record<'author' | 'stored', Ajv2020>> = {};

/**
 * Whether `schema` is a usable draft 2020-12 schema. Never throws. `author` (default): the
 * strict rules above, for every schema as it is written or loaded. `stored`: only whether the
 * engine can run it (`createAuthorSchemaAjv` compiles it), for copies accepted earlier.
 */
export function checkAuthorSchema(schema: unknown, mode: 'author' | 'stored' = 'author'): AuthorSchemaCheck {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return { ok: false, errors: [], message: 'must be a JSON Schema object' };
  }
  const declared = (schema as { $schema?: unknown }).$schema;
  if (mode === 'author' && declared !== undefined && declared !== AUTHOR_SCHEMA_DIALECT) {
    return { ok: false, errors: [], message: `$schema must be ${AUTHOR_SCHEMA_DIALECT} (or left out): schemas here are draft 2020-12` };
  }
  const checker = (checkers[mode] ??= mode === 'author' ? addFormats(new Ajv2020({ ...OPTIONS, strict: true })) : createAuthorSchemaAjv());
  const checked = mode === 'stored' ? runnable(schema as Record<string, unknown>) : (schema as Record<string, unknown>);
  try {
    // Meta-schema first: its errors carry paths; compile then catches strict-mode mistakes.
    if (!checker.validateSchema(checked)) return { ok: false, errors: [...(checker.errors ?? [])] };
    checker.compile(checked);
    return { ok: true };
  } catch (error) {
    return { ok: false, errors: [], message: error instanceof Error ? error.message : String(error) };
  } finally {
    // Author schemas may carry $id; forget them so the next one may reuse the id.
    checker.removeSchema();
  }
}

/**
 * The schema as the engine compiles it: without `$id` (validators are cached by key, and Ajv
 * refuses a second schema with the same id) and without `$schema` (everything here is read as
 * 2020-12; only a copy stored before that rule could name another dialect).
 */
export function runnable(schema: Record<string, unknown>): Record<string, unknown> {
  const { $id: _id, $schema: _schema, ...rest } = schema;
  return rest;
}

export type { ErrorObject, ValidateFunction };
