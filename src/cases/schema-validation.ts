import type { ErrorObject, ValidateFunction } from 'ajv';
import { runnable } from '../json-schema/author-schemas.js';
import type { Draft } from './draft.js';

export interface SchemaProblem {
  /** JSON pointer of the offending field, e.g. `/customer/email`. */
  pointer: string;
  detail: string;
}

/** The compiled validator for a JSON Schema, cached under `cacheKey`. */
export function validatorFor(d: Draft, cacheKey: string, schema: Record<string, unknown>): ValidateFunction {
  const cached = d.engine.cache.validators.get(cacheKey);
  if (cached) return cached;
  const validate = d.engine.ajv.compile(runnable(schema));
  d.engine.cache.validators.set(cacheKey, validate);
  return validate;
}

/** Problems naming the field: a missing property points at the property itself. */
export function schemaProblems(errors: ErrorObject[] | null | undefined): SchemaProblem[] {
  return (errors ?? []).map((e) => {
    if (e.keyword === 'required' && typeof e.params['missingProperty'] === 'string') {
      return { pointer: `${e.instancePath}/${e.params['missingProperty']}`, detail: 'is required' };
    }
    if (e.keyword === 'additionalProperties' && typeof e.params['additionalProperty'] === 'string') {
      return { pointer: `${e.instancePath}/${e.params['additionalProperty']}`, detail: 'is not allowed' };
    }
    return { pointer: e.instancePath || '/', detail: e.message ?? `fails ${e.keyword}` };
  });
}

export function describeProblems(problems: SchemaProblem[]): string {
  return problems.map((p) => `${p.pointer} ${p.detail}`).join('; ');
}
