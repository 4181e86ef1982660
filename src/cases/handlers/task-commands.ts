import type { CompiledFragment, StepResult } from '../../fragments/runtime.js';
import { applyStep } from '../apply-step.js';
import { compiledFor, emit, findActiveFragment, journal, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import { describeProblems, schemaProblems, validatorFor } from '../schema-validation.js';
import { fragmentScope } from '../scope.js';
import { buildHandoffBrief } from '../handoff-brief.js';
import { effortOf, roleMayWork } from '../task-eligibility.js';
import { closeTask } from '../tasks.js';
import type { Assignment, Command, FragmentInstance, HandoffInput, Role, Task } from '../types.js';
import { checkAssignment } from './case-commands.js';

type Claim = Extract<Command, { type: 'task.claim' }>;
type Assign = Extract<Command, { type: 'task.assign' }>;
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

/** Refuses with TASK_ROLE_REQUIRED (403) unless `role` may work the task (see task-eligibility.ts). */
export function checkTaskRole(task: Task, role: Role | 'system', who: string): void {
  if (roleMayWork(task.role, role)) return;
  reject('TASK_ROLE_REQUIRED', `Task "${task.title}" (${task.id}) needs the role ${task.role}; ${who} has role ${role}. Ask a ${task.role} to take it.`, {
    taskId: task.id,
    requiredRole: task.role,
  });
}

/**
 * A handoff: builds the brief for the task's (or case's) new holder, stores it on the case and
 * returns it for the outbound event.
 */
export function handoff(d: Draft, to: Assignment, from: Assignment | undefined, input: HandoffInput | undefined, taskId?: string) {
  const brief = buildHandoffBrief({
    case: d.case,
    atVersion: (d.before?.version ?? 0) + 1,
    now: d.now,
    handoff: { kind: taskId ? 'task' : 'case', ...(taskId ? { taskId } : {}), to, ...(from ? { from } : {}), by: d.ctx.actor.id },
    input,
  });
  d.case.handoffBrief = brief;
  return brief;
}

function emitAssigned(d: Draft, task: Task, extra: Record<string, unknown>, brief: unknown): void {
  emit(d, 'task.assigned', {
    taskId: task.id,
    fragmentId: task.fragmentId,
    title: task.title,
    assignment: task.assignment,
    ...extra,
    handoffBrief: brief,
  });
}

/** The actor takes the task: it is assigned to them personally (their role must fit the task's). */
export function claimTask(d: Draft, command: Claim): Record<string, unknown> {
  const task = findOpenTask(d, command.taskId);
  checkTaskRole(task, d.ctx.actor.role, `your key (${d.ctx.actor.id})`);
  const from = task.assignment;
  task.claimedBy = d.ctx.actor.id;
  task.assignment = { userId: d.ctx.actor.id };
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.claimed', { taskId: task.id, from, by: d.ctx.actor.id });
  const brief = handoff(d, task.assignment, from, command.handoff, task.id);
  emitAssigned(d, task, {}, brief);
  return { taskId: task.id };
}

/** Gives the task to a person or a queue; any claim is released. A queue becomes the task's queue. */
export function reassignTask(d: Draft, command: Reassign): Record<string, unknown> {
  const assignment = checkAssignment(command.assignment);
  const task = findOpenTask(d, command.taskId);
  const from = task.assignment;
  task.assignment = assignment;
  if (assignment.queue !== undefined) task.queue = assignment.queue;
  delete task.claimedBy;
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.reassigned', { taskId: task.id, from, to: assignment });
  const brief = handoff(d, assignment, from, command.handoff, task.id);
  emitAssigned(d, task, {}, brief);
  return { taskId: task.id };
}

/**
 * Gives the task to a person: pulled by them (`next`: the task must still be free) or pushed by a
 * supervisor (`push`). The person's role must fit the task's, and the task's effort must fit
 * their free capacity of its kind — a push may exceed it only with `override.reason`, which is
 * journaled. The edge read role and capacity under the person's row lock, so this holds under
 * concurrency.
 */
export function assignTask(d: Draft, command: Assign): Record<string, unknown> {
  const task = findOpenTask(d, command.taskId);
  if (command.via === 'next' && (task.assignment.userId !== undefined || task.claimedBy !== undefined)) {
    reject('TASK_ALREADY_ASSIGNED', `Task ${task.id} is already with ${task.assignment.userId ?? task.claimedBy}; ask for the next one.`, {
      taskId: task.id,
    });
  }
  checkTaskRole(task, command.userRole, `user ${command.userId}`);
  const effort = effortOf(task);
  const { kind, used, limit } = command.capacity;
  const over = used + effort > limit;
  const overrideReason = command.override?.reason?.trim();
  if (over && (command.via === 'next' || !overrideReason)) {
    reject(
      'CAPACITY_EXCEEDED',
      `User ${command.userId} has ${limit - used} of ${limit} "${kind}" units free and the task takes ${effort}; ` +
        'choose someone with room, or send override_capacity.reason to assign anyway.',
      { userId: command.userId, kind, used, limit, effort },
    );
  }
  const from = task.assignment;
  task.assignment = { userId: command.userId };
  if (command.via === 'next') task.claimedBy = command.userId;
  else delete task.claimedBy;
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.assigned', {
    taskId: task.id,
    from,
    to: task.assignment,
    via: command.via,
    capacity: { kind, used, limit, effort },
    ...(over ? { capacityOverride: { reason: overrideReason } } : {}),
  });
  const brief = handoff(d, task.assignment, from, command.handoff, task.id);
  emitAssigned(d, task, { via: command.via }, brief);
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
  checkTaskRole(task, d.ctx.actor.role, `your key (${d.ctx.actor.id})`);
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
