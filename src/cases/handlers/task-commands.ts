import type { CompiledFragment, StepResult } from '../../fragments/runtime.js';
import { applyStep } from '../apply-step.js';
import { compiledFor, emit, findActiveFragment, journal, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { describeProblems, schemaProblems, validatorFor } from '../schema-validation.js';
import { fragmentScope } from '../scope.js';
import { closeTask } from '../tasks.js';
import type { Command, FragmentInstance, Task } from '../types.js';
import { checkAssignment } from './case-commands.js';

type Claim = Extract<Command, { type: 'task.claim' }>;
type Complete = Extract<Command, { type: 'task.complete' }>;
type Reassign = Extract<Command, { type: 'task.reassign' }>;

export function findOpenTask(d: Draft, taskId: string): Task {
  const task = d.case.tasks.find((t) => t.id === taskId);
  if (task) return task;
  if (d.case.closedTaskIds?.includes(taskId)) {
    reject('TASK_NOT_OPEN', `Task "${taskId}" is already closed.`, { taskId });
  }
  return reject('TASK_NOT_FOUND', `Case ${d.case.id} has no task "${taskId}".`, { taskId });
}

/** The actor takes the task: it is assigned to them personally. */
export function claimTask(d: Draft, command: Claim): Record<string, unknown> {
  const task = findOpenTask(d, command.taskId);
  const from = task.assignment;
  task.claimedBy = d.ctx.actor.id;
  task.assignment = { userId: d.ctx.actor.id };
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.claimed', { taskId: task.id, from, by: d.ctx.actor.id });
  emit(d, 'task.assigned', { taskId: task.id, fragmentId: task.fragmentId, title: task.title, assignment: task.assignment });
  return { taskId: task.id };
}

/** Gives the task to a person or a queue; any claim is released. */
export function reassignTask(d: Draft, command: Reassign): Record<string, unknown> {
  const assignment = checkAssignment(command.assignment);
  const task = findOpenTask(d, command.taskId);
  const from = task.assignment;
  task.assignment = assignment;
  delete task.claimedBy;
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.reassigned', { taskId: task.id, from, to: assignment });
  emit(d, 'task.assigned', { taskId: task.id, fragmentId: task.fragmentId, title: task.title, assignment });
  return { taskId: task.id };
}

/**
 * Completes a task: the output must match the task's form; the task's event is sent to its
 * fragment as `{ type: task.event, data: output }`. If the fragment does not accept it now
 * (e.g. a guard on the output says no), the command is rejected and the task stays open.
 *
 * The output is kept on the closed task (task table, journal) and reaches the fragment as
 * `event.data`; it is NOT merged into the case file — the case file is governed by the
 * template schema, and the fragment's own `assignCaseFile` actions decide what goes there.
 */
export function completeTask(d: Draft, command: Complete): Record<string, unknown> {
  const task = findOpenTask(d, command.taskId);
  const output = command.output ?? {};
  checkTaskOutput(d, task, output);
  const f = findActiveFragment(d, task.fragmentId);
  const compiled = compiledFor(d, f.definition);
  const event = { type: task.event, data: output };
  const scope = fragmentScope(d.case, event, d.ctx.customer);
  const step = compiled.acceptedEvents(f.snapshot, scope).includes(event.type)
    ? compiled.send(f.snapshot, event, scope)
    : undefined;
  if (!step) {
    reject('EVENT_NOT_ACCEPTED', `Fragment "${f.id}" does not accept "${event.type}" for this output now.`, {
      accepted_events: compiled.acceptedEvents(f.snapshot, fragmentScope(d.case, undefined, d.ctx.customer)),
    });
  }
  applyCompletion(d, [task], output, f, compiled, step);
  return { taskId: task.id, fragmentId: f.id };
}

/** Refuses with INVALID_TASK_OUTPUT, naming each offending field, unless `output` matches the task's form. */
export function checkTaskOutput(d: Draft, task: Task, output: Record<string, unknown>): void {
  if (!task.form) return;
  const validate = validatorFor(d, `form:${JSON.stringify(task.form)}`, task.form);
  if (validate(output)) return;
  const problems = schemaProblems(validate.errors);
  reject('INVALID_TASK_OUTPUT', `The output of task "${task.title}" does not match its form: ${describeProblems(problems)}`, {
    errors: problems,
  });
}

/**
 * The task event carrying `output` moved fragment `f` (`step`): each of `tasks` closes as
 * completed by the actor, with the output, and then the step is folded into the case. Shared by
 * `task.complete` and an `event.send` of a task's event; the output must already be checked.
 */
export function applyCompletion(
  d: Draft,
  tasks: Task[],
  output: Record<string, unknown>,
  f: FragmentInstance,
  compiled: CompiledFragment,
  step: StepResult,
): void {
  // Closed before the step, so the task diff of the step does not see them as cancelled.
  for (const task of tasks) closeTask(d, task, 'completed', { completedBy: d.ctx.actor.id, output: structuredClone(output) });
  applyStep(d, f, compiled, step);
}
