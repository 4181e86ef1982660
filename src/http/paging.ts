/**
 * List paging at the edge: `?limit=` is capped by the schema (PageQuery, MAX_PAGE_SIZE) and a
 * cursor must be one this API handed out. Both refusals are 400s naming the parameter.
 */
import { TesseraError } from '../errors.js';
import { decodeCursor } from '../persistence/case-queries.js';

/** The largest page any list returns; bigger pages are refused, not silently shortened. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

/** The decoded cursor, or undefined for the first page; a cursor that is not ours is a 400. */
export function readCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  const decoded = decodeCursor(cursor, check);
  if (decoded === 'invalid') {
    throw new TesseraError('VALIDATION_FAILED', 'querystring /cursor is not a cursor this API returned; pass next_cursor unchanged, or leave it out to start again', {
      errors: [{ pointer: '/cursor', in: 'querystring', detail: 'is not a cursor this API returned; pass next_cursor unchanged' }],
    });
  }
  return decoded;
}
