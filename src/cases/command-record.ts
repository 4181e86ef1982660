/**
 * The command record: what the engine decided a case version from. The journal says what
 * happened; this says what was asked and with which inputs — the command, its actor, the time,
 * the ids the engine drew, the customer as CEL read it and the customer value the priority used.
 * With the pinned template and definitions, that is everything `decide` reads, so folding the
 * records through the same engine gives back every version of the case (history/replay-case.ts).
 *
 * `recordCommands(engine)` wraps an engine so that every decision that changes a case also
 * carries a `command.record` effect; the case store writes it in the command's own statement
 * (table `journal_commands`, migration 0045). Decisions that change nothing (a stale timer, a dry
 * run) carry none, as they write nothing.
 */
import type { CustomerSnapshot } from '../customers/types.js';
import type { Engine } from './engine.js';
import type { Actor, CaseState, Command, CustomerValue } from './types.js';

export interface CommandRecord {
  /** The case version the command produced. */
  version: number;
  command: Command;
  actor: Actor;
  /** `ctx.now`, ISO. */
  at: string;
  /** The template version the decision ran under (the case's pinned one). */
  template: { key: string; version: number };
  /** Every id `ctx.newId()` returned, in order. */
  ids: string[];
  /** What CEL read as `customer`; absent when the case had none. */
  customer?: CustomerSnapshot;
  /** Absent: not looked up (the case kept the value it had). */
  customerValue?: CustomerValue | null;
}

/** An engine whose changing decisions carry their `command.record` effect (see the file comment). */
export function recordCommands(engine: Engine): Engine {
  return {
    ...engine,
    decide(state, command, ctx) {
      const ids: string[] = [];
      const decision = engine.decide(state, command, {
        ...ctx,
        newId: () => {
          const id = ctx.newId();
          ids.push(id);
          return id;
        },
      });
      if (!decision.ok || decision.case === state) return decision;
      const record: CommandRecord = {
        version: decision.case.version,
        command,
        actor: ctx.actor,
        at: ctx.now.toISOString(),
        template: { key: ctx.template.key, version: ctx.template.version },
        ids,
        ...(ctx.customer !== undefined ? { customer: ctx.customer } : {}),
        ...(ctx.customerValue !== undefined ? { customerValue: ctx.customerValue } : {}),
      };
      return { ...decision, effects: [...decision.effects, { type: 'command.record', record }] };
    },
  };
}

/** The record of a decision, if it carries one. */
export function commandRecordOf(effects: readonly { type: string }[]): CommandRecord | undefined {
  const effect = effects.find((e) => e.type === 'command.record') as { record: CommandRecord } | undefined;
  return effect?.record;
}

export type { CaseState };
