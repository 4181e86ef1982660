/**
 * Fragment definitions: versioned, immutable XState v5 machines in JSON.
 *
 * A definition is data only. Guards and actions are referenced by name from the fixed
 * registry in `registry.ts`; conditions are CEL expressions (see `expressions.ts`).
 * Definitions come from case-templates/fragments/, from the API (inline, authored at
 * runtime) or from a checklist built from step titles — all pass the same validation.
 */

/** `key@version`, e.g. `verify-identity@1`. Inline fragments use `inline:<fragment id>@1`. */
export type FragmentRef = string;

/** Task metadata on a state tagged `task`: opened on entry, closed on exit. */
export interface TaskSpec {
  title: string;
  /** Who may work it: a role (agent, supervisor) and/or a queue name. */
  role?: string;
  queue?: string;
  /** JSON Schema the completion output is validated against. */
  form?: Record<string, unknown>;
  /** Event sent to the fragment when the task is completed (default `COMPLETE`). */
  event?: string;
  /** ISO 8601 duration from opening, e.g. `PT4H`. */
  due?: string;
  /** Routing: skills the worker needs, each at least at this level (1-5), e.g. `{ refunds: 2 }`. */
  skills?: Record<string, number>;
  /** Routing: work units the task takes of its kind's capacity (default 1). */
  effort?: number;
  /** Routing: the kind of work whose capacity it uses (default `default`), e.g. `approval`, `call`. */
  kind?: string;
}

/** JSON form of an XState machine config (subset Tessera accepts; validated at load). */
export interface MachineJson {
  id: string;
  initial: string;
  states: Record<string, StateJson>;
  /** Only plain data; the pure transition recomputes it on every call. */
  context?: Record<string, unknown>;
}

export type TransitionJson =
  | string
  | {
      target?: string;
      /**
       * XState v5 `reenter`: with `true`, a transition to its own state (or an ancestor) exits
       * and enters it again — exit/entry actions run, `after` timers re-arm, tasks reopen.
       * Without it, a transition to the source state itself is internal (actions only).
       */
      reenter?: boolean;
      guard?: string | { type: string; params?: Record<string, unknown> };
      actions?: ActionJson | ActionJson[];
      description?: string;
    };

export type ActionJson = string | { type: string; params?: Record<string, unknown> };

export interface StateJson {
  type?: 'atomic' | 'compound' | 'parallel' | 'final';
  initial?: string;
  states?: Record<string, StateJson>;
  on?: Record<string, TransitionJson | TransitionJson[]>;
  /** Keys are milliseconds (`"5000"`) or ISO 8601 durations (`"PT1H"`), resolved to ms at load. */
  after?: Record<string, TransitionJson | TransitionJson[]>;
  always?: TransitionJson | TransitionJson[];
  entry?: ActionJson | ActionJson[];
  exit?: ActionJson | ActionJson[];
  tags?: string[];
  meta?: { task?: TaskSpec; [key: string]: unknown };
  description?: string;
}

export interface FragmentDefinition {
  key: string;
  version: number;
  title: string;
  description?: string;
  machine: MachineJson;
}
