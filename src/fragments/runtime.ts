/**
 * The pure XState runtime for fragments. No I/O, no clock, no randomness: snapshots in,
 * snapshots and decisions out. Built on XState v5's `initialTransition` / `transition`,
 * which return actions instead of running them.
 *
 * CONTRACT (shared by src/cases/ and src/fragments/; keep signatures stable):
 */
import type { FragmentDefinition, TaskSpec } from './types.js';

/** What guards and expressions can see. Read-only. */
export interface Scope {
  caseFile: Record<string, unknown>;
  milestones: Record<string, string>;
  case: { id: string; status: string; priority: string; ownerId?: string; queue?: string };
  /**
   * The event being processed (for guards), if any. Intake rules see more of it (`kind`,
   * `source`, `externalRefs`, `sentiment`: see inbound/intake-rules.ts).
   */
  event?: { type: string; data?: Record<string, unknown>; [field: string]: unknown };
  /** The case's fragments by key, for goal conditions (`fragments.refund.status == 'done'`). */
  fragments?: Record<string, { status: string; states: string[] }>;
  /**
   * The case's customer (`customer.clv`, `customer.segment`...), loaded with the case; an empty
   * map when the case has none (use `has(customer.segment)`). See src/customers/snapshot.ts.
   */
  customer?: Record<string, unknown>;
}

/** Built-in actions that reach outside the fragment; the engine applies them to the case. */
export type FragmentAction =
  | { type: 'assignCaseFile'; path: string; value: unknown }
  | { type: 'setMilestone'; key: string }
  | { type: 'emit'; eventType: string; data: Record<string, unknown> }
  | { type: 'setPriority'; priority: 'low' | 'normal' | 'high' | 'urgent' };

/** An XState delayed event (`after`) that must become a timer row. */
export interface DelayRequest {
  /** XState's send id; used to cancel. */
  sendId: string;
  delayMs: number;
  /** The event XState expects back when the delay elapses. */
  event: { type: string; [key: string]: unknown };
}

export interface StepResult {
  /** Persisted snapshot (JSON) to store. */
  snapshot: unknown;
  /** `done` when the machine reached a top-level final state. */
  status: 'active' | 'done';
  /** Flattened dotted paths of active atomic states, e.g. ['review.drafting']. */
  activeStates: string[];
  actions: FragmentAction[];
  delays: { schedule: DelayRequest[]; cancel: string[] };
  /**
   * Dotted paths of the states this step exited, in XState's exit order — including states
   * entered again in the same step (`reenter: true`), whose tasks must reopen.
   */
  exited: string[];
}

export interface TaskState {
  /** Dotted path of the state tagged `task`. */
  stateKey: string;
  spec: TaskSpec;
}

/** A definition compiled once (cached by the caller per `key@version`). */
export interface CompiledFragment {
  readonly definition: FragmentDefinition;
  start(scope: Scope): StepResult;
  /**
   * `undefined` when no transition in the current state accepts the event (nothing changes).
   * Accepted means what XState's `snapshot.can()` says: an enabled transition with a target or
   * with actions — also one to the state itself that leaves the snapshot unchanged.
   */
  send(snapshot: unknown, event: { type: string; [key: string]: unknown }, scope: Scope): StepResult | undefined;
  /** Event types with an enabled transition now (guards evaluated against scope). Excludes xstate.* events. */
  acceptedEvents(snapshot: unknown, scope: Scope): string[];
  /**
   * A snapshot positioned at `stateKey` (dotted path), entering it (entry actions, delays, tasks).
   * Throws DefinitionError code STATE_NOT_FOUND when the state does not exist.
   */
  jumpTo(snapshot: unknown | undefined, stateKey: string, scope: Scope): StepResult;
  /** States tagged `task` that are active in the snapshot. */
  taskStates(snapshot: unknown): TaskState[];
  /** Every state path in the definition (for migration mapping checks). */
  readonly statePaths: readonly string[];
}

/**
 * Validates and compiles a definition once (cache the result per `key@version`).
 * Throws DefinitionError INVALID_DEFINITION listing every problem. Implemented in
 * compile-fragment.ts.
 */
export { compileFragment } from './compile-fragment.js';
export { DefinitionError, type DefinitionProblem } from './definition-error.js';
