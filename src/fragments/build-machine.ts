/**
 * Turns a validated fragment definition into an XState v5 machine.
 *
 * The JSON already is an XState config; this adds what the runtime needs:
 * - guard implementations from the registry that read the case Scope from a `ScopeHolder`
 *   (set synchronously around each pure call, so the machine is built once per definition);
 * - named delays for ISO 8601 `after` keys (`PT1H` -> 3,600,000 ms);
 * - `raiseEvent` as XState's `raise`;
 * - `options.maxIterations`, so a loop of eventless/raised transitions throws instead of spinning;
 * - for `jumpTo`: one hidden root transition per state (`tessera.jump.<path>` -> `#<id>.<path>`)
 *   and a hidden, empty top-level state `$void` to jump from when there is no snapshot.
 *   XState then computes exits, entries, timers and `always` steps of a jump like any other
 *   transition. `$void` cannot clash: state keys must start with a letter;
 * - an exit marker (`tessera.exited` with `{ path }`) first in every state's exit actions, so a
 *   step can tell which states were left — also those entered again (re-entry), which the
 *   state value alone cannot show. Markers have no implementation: XState hands them to the
 *   action executor like the registry's actions, and the runtime drops them from its result.
 */
import { createMachine, raise, type AnyStateMachine, type EventObject } from 'xstate';
import type { StateIndex } from './index-states.js';
import { parseDelay } from './parse-delay.js';
import { GUARDS, type GuardName } from './registry.js';
import type { Scope } from './runtime.js';
import { ExpressionLimitError } from './expression-meter.js';
import type { MachineJson, StateJson } from './types.js';

export const JUMP_EVENT_PREFIX = 'tessera.jump.';
export const VOID_STATE = '$void';
/** Microsteps one event may cause before XState gives up (an `always`/raise loop). */
export const MAX_MICROSTEPS = 500;
/** The exit marker's action type (see above); reserved, so no definition can name it. */
export const EXITED_MARKER = 'tessera.exited';

/** Where guards find the case while a pure XState call runs. */
export interface ScopeHolder {
  scope: Scope;
  /** Listing accepted events: conditions on the (unknown) event pass. */
  eventUnknown: boolean;
  /**
   * An expression that spent its budget while deciding. XState rethrows a guard's error as a new
   * Error with only its message, so the original is kept here for the caller to rethrow.
   */
  limit?: ExpressionLimitError;
}

export function buildMachine(json: MachineJson, index: StateIndex, holder: ScopeHolder): AnyStateMachine {
  const jumps: Record<string, { target: string }> = {};
  for (const path of index.byPath.keys()) jumps[JUMP_EVENT_PREFIX + path] = { target: `#${json.id}.${path}` };

  const guards: Record<string, (args: { event: EventObject }, params: unknown) => boolean> = {};
  for (const name of Object.keys(GUARDS) as GuardName[]) {
    const entry = GUARDS[name];
    guards[name] = ({ event }, params) => {
      try {
        return entry.evaluate((params ?? {}) as Record<string, unknown>, {
          scope: { ...holder.scope, event: toScopeEvent(event) },
          eventUnknown: holder.eventUnknown,
          // Listing for a view has no event in its scope; sending one (even when first asking
          // which fragments accept it) does.
          deciding: !holder.eventUnknown || holder.scope.event !== undefined,
        });
      } catch (error) {
        if (error instanceof ExpressionLimitError) holder.limit ??= error;
        throw error;
      }
    };
  }

  const config = {
    id: json.id,
    initial: json.initial,
    context: json.context ?? {},
    options: { maxIterations: MAX_MICROSTEPS },
    states: { ...withExitMarkers(structuredClone(json.states), ''), [VOID_STATE]: {} },
    on: jumps,
  };
  const implementations = {
    guards,
    delays: namedDelays(index),
    actions: {
      raiseEvent: raise((_: unknown, params: { event: EventObject }) => params.event),
    },
  };
  // The config is data validated against our own schema; XState's generic config type
  // cannot express "JSON from outside", hence the cast.
  return createMachine(config as never, implementations as never) as unknown as AnyStateMachine;
}

/** Puts the exit marker first in each state's exit actions (mutates the given clone). */
function withExitMarkers(states: Record<string, StateJson>, prefix: string): Record<string, StateJson> {
  for (const [key, state] of Object.entries(states)) {
    const path = prefix + key;
    const exit = state.exit === undefined ? [] : Array.isArray(state.exit) ? state.exit : [state.exit];
    state.exit = [{ type: EXITED_MARKER, params: { path } }, ...exit];
    if (state.states) withExitMarkers(state.states, `${path}.`);
  }
  return states;
}

/** The event as guards and expressions see it: its type and its `data` object. */
export function toScopeEvent(event: EventObject): { type: string; data: Record<string, unknown> } {
  const data = (event as { data?: unknown }).data;
  return {
    type: event.type,
    data: typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {},
  };
}

/** ISO 8601 `after` keys as XState named delays; numeric keys XState reads as ms itself. */
function namedDelays(index: StateIndex): Record<string, number> {
  const delays: Record<string, number> = {};
  for (const state of index.byPath.values()) {
    for (const key of Object.keys((state.json as StateJson).after ?? {})) {
      if (/^[0-9]+$/.test(key)) continue;
      const parsed = parseDelay(key);
      if (!parsed.ok) throw new Error(`after key ${key}: ${parsed.message}`); // validated before; unreachable
      delays[key] = parsed.ms;
    }
  }
  return delays;
}
