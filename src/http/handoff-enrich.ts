/** Commands that hand work over get the handoff brief's input, read in their transaction. */
import type { CaseState, Command } from '../cases/types.js';
import type { CommandRequest } from '../commands/run-command.js';
import { loadHandoffInput } from '../persistence/handoff-input.js';

type Handoff = Extract<Command, { type: 'task.claim' | 'task.reassign' | 'case.reassign' }>;

export function withHandoffInput(command: Command): NonNullable<CommandRequest['enrich']> {
  return async (trx, state: CaseState) => ({
    ...(command as Handoff),
    handoff: await loadHandoffInput(trx, state.id, state.handoffBrief?.atVersion ?? 0),
  });
}
