import { TesseraError } from '../errors.js';

/** The codes a fragment definition, expression or state lookup can fail with. */
export type DefinitionErrorCode = 'INVALID_DEFINITION' | 'INVALID_EXPRESSION' | 'STATE_NOT_FOUND';

/** One thing wrong with a definition: where (dotted path) and what to change. */
export interface DefinitionProblem {
  path: string;
  message: string;
}

/**
 * Thrown by the fragment runtime for definitions, expressions and states that cannot be used.
 * `problems` (also in `details.problems`) lists every issue found, each naming its path.
 */
export class DefinitionError extends TesseraError {
  readonly problems: DefinitionProblem[];

  constructor(code: DefinitionErrorCode, message: string, problems: DefinitionProblem[] = [], details: Record<string, unknown> = {}) {
    super(code, message, problems.length > 0 ? { ...details, problems } : details);
    this.name = 'DefinitionError';
    this.problems = problems;
  }
}
