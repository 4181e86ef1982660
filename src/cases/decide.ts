import { createDraft, type Draft, type EngineInternals } from './draft.js';
import { evaluateGoals } from './goals.js';
import { addFragment } from './handlers/add-fragment.js';
import { cancelFragment, jumpFragment, reassignFragment } from './handlers/adapt-fragment.js';
import { addContent, closeCase, reassignCase } from './handlers/case-commands.js';
import { fireTimer } from './handlers/fire-timer.js';
import { addGoal, updateGoal } from './handlers/goal-commands.js';
import { holdCase, resumeCase } from './handlers/hold-commands.js';
import { migrateFragment } from './handlers/migrate-fragment.js';
import { newCase, openCase } from './handlers/open-case.js';
import { overridePriority, recomputeCasePriority, releasePriority } from './handlers/priority-commands.js';
import { openPriority } from './priority.js';
import { sendEvent } from './handlers/send-event.js';
import { assignTask, claimTask, completeTask, reassignTask } from './handlers/task-commands.js';
import { checkCaseFile } from './case-file-check.js';
import { runSentries } from './sentries.js';
import { reject, toDomainError } from './rejection.js';
import type { CaseState, Command, CommandType, DecideContext, Decision } from './types.js';

type Outcome = Record<string, unknown>;

/**
 * `(case, command, ctx) -> Decision`. Pure: reads time and ids from `ctx` only, never mutates
 * `state`, and answers a rejected command with `{ ok: false }` and nothing else.
 *
 * On success the case carries `version + 1` and `updatedAt = now`, goals have been re-evaluated
 * (and an `auto` template resolved), and `effects`/`journal` list what the edge must write, in
 * order. Two successes write nothing: a stale `timer.fire` (`result.noop`) and a `dryRun`
 * migration (`result.dryRun`); both return the input case object itself.
 *
 * Throws only on bugs (or a broken definition that the runtime cannot run): never for a
 * command the domain refuses.
 */
export function decide(engine: EngineInternals, state: CaseState | undefined, command: Command, ctx: DecideContext): Decision {
  try {
    return decideOrThrow(engine, state, command, ctx);
  } catch (err) {
    const error = toDomainError(err);
    if (error) return { ok: false, error };
    throw err;
  }
}

function decideOrThrow(engine: EngineInternals, state: CaseState | undefined, command: Command, ctx: DecideContext): Decision {
  if (command.type === 'case.open') {
    if (state) reject('VALIDATION_FAILED', 'case.open starts a new case; send it without an existing case.');
    const d = createDraft(newCase(command, ctx), ctx, engine, undefined);
    // Scored before case.opened is journaled, so the event carries the priority the case opens with.
    openPriority(d, command.input.priority);
    openCase(d);
    checkCaseFile(d, 'Opening the case');
    return finish(d, 0, { caseId: d.case.id });
  }
  if (!state) return reject('CASE_NOT_FOUND', `No case to apply ${command.type} to.`);
  if (state.template.key !== ctx.template.key || state.template.version !== ctx.template.version) {
    // The edge loaded the wrong template version: a bug, not a domain refusal.
    throw new Error(
      `decide: case ${state.id} uses template ${state.template.key}@${state.template.version}, ctx has ${ctx.template.key}@${ctx.template.version}`,
    );
  }
  if (!acceptsCommand(state, command)) {
    // A timer is a hint: one that comes back after the case stopped is simply stale.
    if (command.type === 'timer.fire' || command.type === 'priority.recompute') return unchanged(state, { noop: true, reason: 'case_not_open' });
    reject('CASE_NOT_OPEN', `Case ${state.id} is ${state.status}; ${command.type} needs an open case.`, { status: state.status });
  }
  const d = createDraft(structuredClone(state), ctx, engine, reasonOf(command), state);
  const outcome = handle(d, command);
  if (outcome['noop'] === true) return unchanged(state, outcome);
  // Before a dry run answers too: it must say what the real command would say.
  checkCaseFile(d, COMMAND_WHAT[command.type]);
  if (command.type === 'fragment.migrate' && command.dryRun === true) return unchanged(state, { dryRun: true, ...outcome });
  return finish(d, state.version, outcome);
}

/** How refusals name the command (`... would leave the case file invalid`). */
const COMMAND_WHAT: Record<Exclude<CommandType, 'case.open'>, string> = {
  'event.send': 'The event',
  'fragment.add': 'Adding the fragment',
  'fragment.migrate': 'Migrating the fragment',
  'fragment.jump': 'The jump',
  'fragment.cancel': 'Cancelling the fragment',
  'fragment.reassign': 'Reassigning the fragment',
  'goal.add': 'Adding the goal',
  'goal.update': 'Updating the goal',
  'case.reassign': 'Reassigning the case',
  'task.claim': 'Claiming the task',
  'task.complete': 'Completing the task',
  'task.reassign': 'Reassigning the task',
  'task.assign': 'Assigning the task',
  'content.add': 'Adding content',
  'case.close': 'Closing the case',
  'case.hold': 'Holding the case',
  'case.resume': 'Resuming the case',
  'timer.fire': 'The timer',
  'priority.recompute': 'Recomputing the priority',
  'priority.override': 'Overriding the priority',
  'priority.release': 'Lifting the priority override',
};

/**
 * What a held case still takes: resuming or closing it, evidence, moving the work to other
 * people, and its fragments' own timers (delays keep running on hold; see `holdCase`).
 */
const ON_HOLD_COMMANDS: ReadonlySet<CommandType> = new Set<CommandType>([
  'case.resume',
  'case.close',
  'content.add',
  'case.reassign',
  'task.reassign',
  'task.assign',
  'fragment.reassign',
  'timer.fire',
  'priority.recompute',
  'priority.override',
  'priority.release',
]);

/** Only open cases change; a held one takes ON_HOLD_COMMANDS; a resolved one may still be closed. */
function acceptsCommand(state: CaseState, command: Command): boolean {
  if (state.status === 'open') return true;
  if (state.status === 'on_hold') return ON_HOLD_COMMANDS.has(command.type);
  return command.type === 'case.close' && state.status === 'resolved';
}

function handle(d: Draft, command: Exclude<Command, { type: 'case.open' }>): Outcome {
  switch (command.type) {
    case 'event.send':
      return sendEvent(d, command);
    case 'fragment.add':
      return addFragment(d, command);
    case 'fragment.migrate':
      return migrateFragment(d, command);
    case 'fragment.jump':
      return jumpFragment(d, command);
    case 'fragment.cancel':
      return cancelFragment(d, command);
    case 'fragment.reassign':
      return reassignFragment(d, command);
    case 'goal.add':
      return addGoal(d, command);
    case 'goal.update':
      return updateGoal(d, command);
    case 'case.reassign':
      return reassignCase(d, command);
    case 'task.claim':
      return claimTask(d, command);
    case 'task.complete':
      return completeTask(d, command);
    case 'task.reassign':
      return reassignTask(d, command);
    case 'task.assign':
      return assignTask(d, command);
    case 'content.add':
      return addContent(d, command);
    case 'case.close':
      return closeCase(d, command);
    case 'case.hold':
      return holdCase(d, command);
    case 'case.resume':
      return resumeCase(d, command);
    case 'timer.fire':
      return fireTimer(d, command);
    case 'priority.recompute':
      return recomputeCasePriority(d);
    case 'priority.override':
      return overridePriority(d, command);
    case 'priority.release':
      return releasePriority(d, command);
  }
}

function finish(d: Draft, previousVersion: number, result: Outcome): Decision {
  // Sentries first: a fragment they start may reach a milestone a goal waits for.
  runSentries(d);
  evaluateGoals(d);
  d.case.version = previousVersion + 1;
  d.case.updatedAt = d.now;
  return { ok: true, case: d.case, effects: d.effects, journal: d.journal, result };
}

function unchanged(state: CaseState, result: Outcome): Decision {
  return { ok: true, case: state, effects: [], journal: [], result };
}

function reasonOf(command: Command): string | undefined {
  if (command.type === 'task.assign') return command.override?.reason?.trim() || undefined;
  return 'reason' in command && typeof command.reason === 'string' && command.reason.trim() !== '' ? command.reason : undefined;
}
