/**
 * The validator compiler of every route schema, one Ajv per part of the request:
 *
 * - **body**: no type coercion and no defaults. Fastify's default (`coerceTypes: 'array'`) turns
 *   `null` into `false`/`0`/`""` and numbers or one-element arrays into strings, so wrong input
 *   became an action (`{"enabled": null}` disabled a subscription). A wrong type is a 400 naming
 *   the field. Defaults are not filled in either: Ajv applies them while it tries each branch of
 *   a union, so a branch that fails can still leave its defaults in the body; handlers apply
 *   their defaults themselves. `discriminator` lets a union dispatch on a tag (the adapt actions)
 *   so its errors name only what is wrong for the branch asked.
 * - **querystring, params, headers**: text on the wire, so they are parsed to their declared
 *   types (`?limit=5` is 5, a lone `?sla=at_risk` is a one-element array) and defaults apply.
 *
 * Unknown fields are always an error, never silently dropped (`removeAdditional: false`).
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS: under NodeNext its plugin is the module itself or its `default`.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

const SHARED: Options = { removeAdditional: false, allErrors: true, addUsedSchema: false };

function newAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...SHARED, ...options });
  addFormats(ajv);
  return ajv;
}

export function createRequestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = newAjv({ coerceTypes: false, useDefaults: false, discriminator: true });
  const text = newAjv({ coerceTypes: 'array', useDefaults: true });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? body : text;
    const id = (schema as { $id?: string }).$id;
    const known = id ? ajv.getSchema(id) : undefined;
    return (known ?? ajv.compile(schema as object)) as ValidateFunction;
  };
}
