/**
 * The fragment runtime: a validated definition compiled once into pure functions over
 * persisted XState snapshots (see the contract in runtime.ts).
 *
 * How guards see the case: the machine is built once, with guard implementations that read
 * the Scope from a per-fragment `ScopeHolder`. Each public call sets the holder, runs the pure
 * XState function synchronously, and resets it in `finally` — nothing async happens in
 * between, so calls cannot interleave.
 *
 * How delays become timers: XState hands back `xstate.raise` with `params.delay` when a state
 * with `after` is entered, and `xstate.cancel` when it is left. Both carry XState's send id,
 * `xstate.after.<after key>.<machine id>.<state path>` (e.g. `xstate.after.PT1H.refund.review`);
 * the event to deliver when the timer fires is `{ type: <the same string> }`. Within one step,
 * a schedule followed by a cancel of the same id (a state entered and left at once) is
 * dropped; a cancel followed by a schedule (re-entry) keeps both: apply cancels first.
 *
 * Why not call XState's exported `transition()` / `initialTransition()`: each call builds a
 * throwaway Actor whose constructor computes the machine's initial snapshot — running the
 * initial state's entry, delays and `always` guards — on every event (measured: most of the
 * ~150 µs per event, plus GC). We do what those functions do, through the same public
 * ActorLogic methods (`machine.transition(snapshot, event, actorScope)`,
 * `machine.getInitialSnapshot(actorScope)`), with one inert actor scope per compiled fragment
 * whose `actionExecutor` collects actions instead of running them. Reusing the scope is safe
 * because fragments have no invoked or spawned actors (validation refuses them), so the
 * scope's actor system never holds state. test/fragments/runtime.test.ts checks the results
 * against XState's `transition()`.
 */
import { createActor, getNextTransitions, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import { buildMachine, EXITED_MARKER, JUMP_EVENT_PREFIX, toScopeEvent, VOID_STATE, type ScopeHolder } from './build-machine.js';
import { DefinitionError } from './definition-error.js';
import { ExpressionLimitError } from './expression-meter.js';
import { indexStates, leafPaths, type StateIndex } from './index-states.js';
import { ACTIONS, isActionName, isReservedEventType, type ActionEntry } from './registry.js';
import type { CompiledFragment, DelayRequest, FragmentAction, Scope, StepResult, TaskState } from './runtime.js';
import type { FragmentDefinition } from './types.js';
import { validateFragmentDefinition } from './validate-definition.js';

const IDLE_SCOPE: Scope = Object.freeze({
  caseFile: {},
  milestones: {},
  case: { id: '', status: 'open', priority: 'normal' },
});

/**
 * Validates and compiles a definition. Throws DefinitionError INVALID_DEFINITION (with every
 * problem in `problems`) when it does not pass `validateFragmentDefinition`.
 */
export function compileFragment(definition: FragmentDefinition): CompiledFragment {
  // Compiling is for definitions already accepted (stored ones too): forms need only be runnable.
  // New definitions get the strict author check first (loader, `validateDefinition`).
  const validation = validateFragmentDefinition(definition, { forms: 'stored' });
  if (!validation.ok) {
    const first = validation.problems[0];
    const name = `${String((definition as Partial<FragmentDefinition>)?.key)}@${String((definition as Partial<FragmentDefinition>)?.version)}`;
    throw new DefinitionError(
      'INVALID_DEFINITION',
      `Fragment definition ${name} is invalid: ${first === undefined ? '' : `${first.path}: ${first.message}`}` +
        (validation.problems.length > 1 ? ` (and ${validation.problems.length - 1} more problems)` : ''),
      validation.problems,
    );
  }
  const frozen = deepFreeze(structuredClone(validation.definition));
  return new Fragment(frozen);
}

type Executable = { type: string; params?: unknown; info?: { event?: EventObject } };

class Fragment implements CompiledFragment {
  readonly definition: FragmentDefinition;
  readonly statePaths: readonly string[];
  private readonly index: StateIndex;
  private readonly machine: AnyStateMachine;
  private readonly holder: ScopeHolder = { scope: IDLE_SCOPE, eventUnknown: false };
  private readonly voidSnapshot: AnyMachineSnapshot;
  private readonly actorScope: AnyActorScope;
  private collected: Executable[] = [];

  constructor(definition: FragmentDefinition) {
    this.definition = definition;
    this.index = indexStates(definition.machine);
    this.statePaths = Object.freeze([...this.index.byPath.keys()]);
    this.machine = buildMachine(definition.machine, this.index, this.holder);
    this.voidSnapshot = this.machine.resolveState({ value: VOID_STATE, context: definition.machine.context ?? {} });
    // Never started: it only lends XState an actor reference and an (idle) actor system.
    const inert = createActor(this.machine);
    this.actorScope = {
      self: inert,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: inert.system,
      stopChild: () => {},
      actionExecutor: (action) => {
        this.collected.push(action as Executable);
      },
    };
  }

  start(scope: Scope): StepResult {
    return this.withScope(scope, false, () => {
      const [next, actions] = this.pure(() => this.machine.getInitialSnapshot(this.actorScope) as AnyMachineSnapshot);
      return this.step(next, actions, scope);
    });
  }

  send(snapshot: unknown, event: { type: string; [key: string]: unknown }, scope: Scope): StepResult | undefined {
    if (!isSendable(event)) return undefined;
    const current = this.restore(snapshot);
    if (current.status !== 'active') return undefined;
    return this.withScope(scope, false, () => {
      // Taken or not is XState's own rule (`snapshot.can()`): an enabled transition with a target
      // or with actions. Comparing snapshots cannot tell: a transition to the state itself
      // (internal, or re-entering one without actions) leaves the snapshot as it was. The same
      // rule lists accepted events, so the list never offers what this refuses.
      if (!current.can(event)) return undefined;
      const [next, actions] = this.pure(() => this.machine.transition(current, event, this.actorScope));
      // A timer that fired is spent: leaving its state need not cancel it.
      return this.step(next, actions, scope, event.type.startsWith('xstate.after.') ? event.type : undefined);
    });
  }

  acceptedEvents(snapshot: unknown, scope: Scope): string[] {
    const current = this.restore(snapshot);
    if (current.status !== 'active') return [];
    return this.withScope(scope, true, () => {
      const types = new Set<string>();
      for (const t of getNextTransitions(current)) {
        const type = t.eventType;
        if (type === '' || types.has(type) || isReservedEventType(type)) continue;
        if (current.can({ type })) types.add(type);
      }
      return [...types];
    });
  }

  jumpTo(snapshot: unknown | undefined, stateKey: string, scope: Scope): StepResult {
    if (typeof stateKey !== 'string' || !this.index.byPath.has(stateKey)) {
      throw new DefinitionError(
        'STATE_NOT_FOUND',
        `State "${String(stateKey).slice(0, 100)}" does not exist in fragment ${this.name}. Use one of: ${this.statePaths.slice(0, 30).join(', ')}.`,
        [],
        { state: stateKey, states: this.statePaths },
      );
    }
    const restored = snapshot === undefined ? this.voidSnapshot : this.restore(snapshot);
    // A finished fragment is re-opened from nothing: there is nothing left to exit.
    const from = restored.status === 'active' ? restored : this.voidSnapshot;
    return this.withScope(scope, false, () => {
      const [next, actions] = this.pure(() => this.machine.transition(from, { type: JUMP_EVENT_PREFIX + stateKey }, this.actorScope));
      return this.step(next, actions, scope);
    });
  }

  taskStates(snapshot: unknown): TaskState[] {
    const current = this.restore(snapshot);
    const active = activePaths(current.value);
    const out: TaskState[] = [];
    for (const [stateKey, spec] of this.index.tasks) if (active.has(stateKey)) out.push({ stateKey, spec });
    return out;
  }

  private get name(): string {
    return `${this.definition.key}@${this.definition.version}`;
  }

  /**
   * An expression of this fragment spent its budget: say which fragment and, when XState wrapped
   * it ("Unable to evaluate guard 'expr' in transition for event 'GO' in state node 'x.idle'"), where.
   */
  private limited(error: ExpressionLimitError, wrapper?: unknown): ExpressionLimitError {
    if (error.details?.fragment !== undefined) return error;
    const where = wrapper instanceof Error && wrapper !== error ? /^Unable to evaluate guard '[^']*' (in transition [^:\n]*)/.exec(wrapper.message)?.[1] : undefined;
    return new ExpressionLimitError(`Fragment ${this.name}${where ? `, guard ${where}` : ''}: ${error.message}`, { ...error.details, fragment: this.name });
  }

  /** Runs one XState call, returning its snapshot and the actions it handed to the executor. */
  private pure(run: () => AnyMachineSnapshot): [AnyMachineSnapshot, Executable[]] {
    this.collected = [];
    const next = run();
    const actions = this.collected;
    this.collected = [];
    if (next.status === 'error') {
      const limit = next.error instanceof ExpressionLimitError ? next.error : this.holder.limit;
      if (limit !== undefined) throw this.limited(limit);
      // XState reports a loop of eventless/raised transitions (maxIterations) as an error snapshot.
      throw new DefinitionError('INVALID_DEFINITION', `Fragment ${this.name} could not settle: ${errorMessage(next.error)}`);
    }
    return [next, actions];
  }

  private withScope<T>(scope: Scope, eventUnknown: boolean, run: () => T): T {
    this.holder.scope = scope;
    this.holder.eventUnknown = eventUnknown;
    try {
      return run();
    } catch (error) {
      if (error instanceof DefinitionError) throw error;
      const limit = error instanceof ExpressionLimitError ? error : this.holder.limit;
      if (limit !== undefined) throw this.limited(limit, error);
      // XState throws on a loop of eventless or raised transitions (maxIterations).
      throw new DefinitionError('INVALID_DEFINITION', `Fragment ${this.name} could not settle: ${errorMessage(error)}`);
    } finally {
      this.holder.scope = IDLE_SCOPE;
      this.holder.eventUnknown = false;
      this.holder.limit = undefined;
    }
  }

  /** A persisted snapshot back into XState; throws STATE_NOT_FOUND when it does not fit this definition. */
  private restore(snapshot: unknown): AnyMachineSnapshot {
    const value = typeof snapshot === 'object' && snapshot !== null ? (snapshot as { value?: unknown }).value : undefined;
    const leaves = leafPaths(value);
    // Check against our own index before XState looks keys up (never the prototype chain).
    const missing = leaves === undefined ? ['(not a state value)'] : leaves.filter((p) => !this.index.byPath.has(p));
    if (leaves === undefined || leaves.length === 0 || missing.length > 0) {
      throw new DefinitionError(
        'STATE_NOT_FOUND',
        `The snapshot's state ${missing.join(', ') || '(empty)'} does not exist in fragment ${this.name}. Migrate the fragment with a state mapping.`,
        [],
        { states: missing },
      );
    }
    try {
      return this.machine.resolveState({ value: value as string, context: this.definition.machine.context ?? {} });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new DefinitionError('STATE_NOT_FOUND', `The snapshot does not fit fragment ${this.name}: ${message}. Migrate the fragment with a state mapping.`);
    }
  }

  private step(next: AnyMachineSnapshot, executed: readonly Executable[], scope: Scope, firedSendId?: string): StepResult {
    const actions: FragmentAction[] = [];
    const scheduled = new Map<string, DelayRequest>();
    const cancel: string[] = [];
    const exited: string[] = [];
    for (const action of executed) {
      if (action.type === EXITED_MARKER) {
        exited.push((action.params as { path: string }).path);
      } else if (action.type === 'xstate.raise') {
        const params = action.params as { delay?: number; id?: string; event: EventObject };
        // A raise without a delay was already processed inside the transition.
        if (params.delay === undefined || params.id === undefined) continue;
        scheduled.delete(params.id);
        scheduled.set(params.id, { sendId: params.id, delayMs: params.delay, event: { ...params.event } });
      } else if (action.type === 'xstate.cancel') {
        const sendId = (action.params as { sendId: string }).sendId;
        if (scheduled.has(sendId)) scheduled.delete(sendId);
        else if (sendId !== firedSendId) cancel.push(sendId);
      } else if (isActionName(action.type)) {
        const entry: ActionEntry = ACTIONS[action.type];
        const event = action.info?.event ?? { type: '' };
        // Expressions in actions see the event that triggered them, like guards do.
        const converted = entry.toAction?.((action.params ?? {}) as Record<string, unknown>, {
          scope: { ...scope, event: toScopeEvent(event) },
          event,
        });
        if (converted !== undefined) actions.push(converted);
      }
    }
    return {
      snapshot: this.machine.getPersistedSnapshot(next),
      status: next.status === 'done' ? 'done' : 'active',
      activeStates: leafPaths(next.value) ?? [],
      actions,
      delays: { schedule: [...scheduled.values()], cancel },
      exited,
    };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isSendable(event: unknown): event is EventObject {
  if (typeof event !== 'object' || event === null) return false;
  const type = (event as { type?: unknown }).type;
  if (typeof type !== 'string' || type === '' || type.length > 200) return false;
  // Timers come back as their XState delayed event; other runtime events are internal.
  return !isReservedEventType(type) || type.startsWith('xstate.after.');
}

/** Leaf paths and all their ancestors. */
function activePaths(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const leaf of leafPaths(value) ?? []) {
    const segments = leaf.split('.');
    for (let i = 1; i <= segments.length; i++) out.add(segments.slice(0, i).join('.'));
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'object' && item !== null && !Object.isFrozen(item)) {
      Object.freeze(item);
      stack.push(...Object.values(item));
    }
  }
  return value;
}
