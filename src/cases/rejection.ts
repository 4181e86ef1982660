import { ERROR_CODES, type ErrorCode } from '../errors.js';
import type { DomainError } from './types.js';

/**
 * Thrown inside the engine to abandon a command. `decide` catches it and answers
 * `{ ok: false, error }`; because handlers only touch a private copy of the case, abandoning
 * mid-way leaves nothing behind.
 */
export class Rejection extends Error {
  readonly error: DomainError;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'Rejection';
    this.error = details ? { code, message, details } : { code, message };
  }
}

export function reject(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new Rejection(code, message, details);
}

/**
 * Maps what the engine may throw to a DomainError: its own rejections, and errors from the
 * fragment runtime that carry a stable code (e.g. DefinitionError `STATE_NOT_FOUND`).
 * Returns undefined for anything else — a bug, which must surface as a 500.
 */
export function toDomainError(err: unknown): DomainError | undefined {
  if (err instanceof Rejection) return err.error;
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code in ERROR_CODES) {
    const details = 'details' in err && isRecord(err.details) ? err.details : undefined;
    return details ? { code: err.code, message: err.message, details } : { code: err.code, message: err.message };
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
