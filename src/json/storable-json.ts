/**
 * What Postgres jsonb (and our own recursive code) can store, checked in one place. Pure: the HTTP
 * body parser, the inbound webhook use case and the inbound mapping (whose JSONata results are
 * stored as case content) all ask it, so a value refused at one door is refused at every door.
 *
 * Refused: nesting deeper than MAX_JSON_DEPTH (JSON.stringify and recursive walkers throw
 * RangeError), strings jsonb rejects (`\u0000`, lone surrogates), and numbers JSON cannot hold
 * (`1e309` parses to Infinity, which would be stored as null).
 */
import { TesseraError } from '../errors.js';

export const MAX_JSON_DEPTH = 64;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface JsonProblem {
  /** JSON pointer to the value, `/` for the document itself. */
  pointer: string;
  detail: string;
}

/** Returns a JSON pointer and a problem for the first unstorable value, or undefined. */
export function findUnstorableJson(value: unknown, pointer = '', depth = 0): JsonProblem | undefined {
  if (depth > MAX_JSON_DEPTH) return { pointer: pointer || '/', detail: `nests deeper than ${MAX_JSON_DEPTH} levels; flatten it` };
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { pointer: pointer || '/', detail: 'contains a NUL character (\\u0000); remove it' };
    if (LONE_SURROGATE.test(value)) return { pointer: pointer || '/', detail: 'contains an unpaired UTF-16 surrogate; send valid Unicode' };
    return undefined;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return { pointer: pointer || '/', detail: 'is a number too large for JSON (it overflows to infinity); send a finite number' };
  }
  if (value === null || typeof value !== 'object') return undefined;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  for (const [key, child] of entries) {
    const keyProblem = findUnstorableJson(key, pointer, depth + 1);
    if (keyProblem) return { ...keyProblem, detail: `a key ${keyProblem.detail}` };
    const problem = findUnstorableJson(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** A depth check that runs before JSON.parse builds a deep structure on the heap. */
export function exceedsJsonDepth(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash escapes the next char
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * Parses JSON text into a storable value, or throws TesseraError: MALFORMED_JSON (empty, too
 * deep, not JSON) or VALIDATION_FAILED naming the pointer of the first unstorable value.
 */
export function parseStorableJson(text: string): unknown {
  if (text.trim() === '') throw new TesseraError('MALFORMED_JSON', 'The body is empty; send a JSON document or omit the Content-Type header');
  if (exceedsJsonDepth(text)) {
    throw new TesseraError('MALFORMED_JSON', `The body nests deeper than ${MAX_JSON_DEPTH} levels; flatten it`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('MALFORMED_JSON', `The body is not valid JSON: ${(err as Error).message}`);
  }
  const problem = findUnstorableJson(value);
  if (problem) {
    throw new TesseraError('VALIDATION_FAILED', `body ${problem.pointer} ${problem.detail}`, {
      errors: [{ pointer: problem.pointer, in: 'body', detail: problem.detail }],
    });
  }
  return value;
}
