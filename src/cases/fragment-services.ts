import { buildChecklistDefinition } from '../fragments/checklist.js';
import { compileExpression, evaluateCondition, type CompiledExpression } from '../fragments/expressions.js';
import { compileFragment, type CompiledFragment, type Scope } from '../fragments/runtime.js';
import type { FragmentDefinition } from '../fragments/types.js';
import { validateFragmentDefinition } from '../fragments/validate-definition.js';

export type DefinitionCheck =
  | { ok: true; definition: FragmentDefinition }
  | { ok: false; problems: { path: string; message: string }[] };

/**
 * Everything the case engine needs from src/fragments/, as one replaceable object
 * (tests may wrap it; the engine never imports the fragment modules elsewhere).
 */
export interface FragmentServices {
  compileFragment(definition: FragmentDefinition): CompiledFragment;
  validateDefinition(definition: unknown): DefinitionCheck;
  buildChecklist(title: string, steps: string[], key: string): FragmentDefinition;
  /** Compiles a CEL condition; throws (code INVALID_EXPRESSION) when it does not parse. */
  compileCondition(source: string): unknown;
  /** True only when the condition holds; a missing field or a type mismatch is false. */
  evaluateCondition(compiled: unknown, scope: Scope): boolean;
}

export function defaultFragmentServices(): FragmentServices {
  return {
    compileFragment,
    validateDefinition: (definition) => validateFragmentDefinition(definition) as DefinitionCheck,
    buildChecklist: (title, steps, key) => buildChecklistDefinition(title, steps, key),
    compileCondition: (source) => compileExpression(source, 'bool'),
    evaluateCondition: (compiled, scope) => evaluateCondition(compiled as CompiledExpression, scope),
  };
}
