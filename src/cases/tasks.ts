import type { CompiledFragment, TaskState } from '../fragments/runtime.js';
import { emit, journal, type Draft } from './draft.js';
import { addWorkingTime } from './business-calendar.js';
import { addIsoDuration } from './time.js';
import type { Assignment, FragmentInstance, Task } from './types.js';

/**
 * Diffs the task-tagged states of `f` against its open tasks: a task whose state was left is
 * cancelled — also when the step entered that state again (`exited`: re-entry reopens the task,
 * as it re-runs entry actions and re-arms timers) — and a task state without an open task opens
 * one. (Completion closes its task before the step, so a completed task is never seen here.)
 */
export function syncTasks(d: Draft, f: FragmentInstance, compiled: CompiledFragment, exited: readonly string[] = []): void {
  const wanted = f.status === 'active' ? compiled.taskStates(f.snapshot) : [];
  const wantedKeys = new Set(wanted.map((t) => t.stateKey));
  const left = new Set(exited);
  for (const task of openTasksOf(d, f.id)) {
    if (!wantedKeys.has(task.stateKey) || left.has(task.stateKey)) closeTask(d, task, 'cancelled');
  }
  const openKeys = new Set(openTasksOf(d, f.id).map((t) => t.stateKey));
  for (const taskState of wanted) {
    if (!openKeys.has(taskState.stateKey)) openTask(d, f, taskState);
  }
}

export function openTasksOf(d: Draft, fragmentId: string): Task[] {
  return d.case.tasks.filter((t) => t.fragmentId === fragmentId && t.status === 'open');
}

function openTask(d: Draft, f: FragmentInstance, { stateKey, spec }: TaskState): void {
  const task: Task = {
    id: d.ctx.newId(),
    fragmentId: f.id,
    stateKey,
    title: spec.title,
    assignment: defaultAssignment(d, f, spec.queue),
    event: spec.event ?? 'COMPLETE',
    status: 'open',
    openedAt: d.now,
  };
  if (spec.role !== undefined) task.role = spec.role;
  if (task.assignment.queue !== undefined) task.queue = task.assignment.queue;
  if (spec.skills !== undefined) task.skills = { ...spec.skills };
  if (spec.effort !== undefined) task.effort = spec.effort;
  if (spec.kind !== undefined) task.kind = spec.kind;
  if (spec.form !== undefined) task.form = spec.form;
  if (spec.due !== undefined) task.dueAt = taskDue(d, spec.due, spec.title);
  d.case.tasks.push(task);
  d.effects.push({ type: 'task.upsert', task: structuredClone(task) });
  journal(d, 'task.opened', { taskId: task.id, fragmentId: f.id, stateKey, title: task.title, assignment: task.assignment });
  emit(d, 'task.assigned', { taskId: task.id, fragmentId: f.id, title: task.title, assignment: task.assignment });
}

/**
 * A task's due time: working time under the template's calendar (a `PT4H` task opened Friday
 * 16:00 with 9-17 hours is due Monday 12:00), elapsed time otherwise. Milliseconds are always elapsed.
 */
function taskDue(d: Draft, due: string, title: string): string {
  const calendar = d.ctx.template.calendar;
  if (/^[0-9]+$/.test(due)) return new Date(d.ctx.now.getTime() + Number(due)).toISOString();
  if (calendar === undefined) return addIsoDuration(d.ctx.now, due, `Task "${title}" due`);
  return addWorkingTime(d.ctx.now, due, calendar).toISOString();
}

/**
 * Who a new task goes to, most specific first: the fragment's assignment (a person or queue
 * chosen at runtime), the task's own queue, the case queue, the template's default queue, the
 * case owner; else the `unassigned` queue. The task's role stays on the task for worklists.
 */
export function defaultAssignment(d: Draft, f: FragmentInstance, taskQueue: string | undefined): Assignment {
  if (f.assignment?.userId) return { userId: f.assignment.userId };
  if (f.assignment?.queue) return { queue: f.assignment.queue };
  const queue = taskQueue ?? d.case.queue ?? d.ctx.template.defaultQueue;
  if (queue) return { queue };
  if (d.case.ownerId) return { userId: d.case.ownerId };
  return { queue: 'unassigned' };
}

/** Closes an open task: it leaves the aggregate and goes to the task table as an upsert. */
export function closeTask(
  d: Draft,
  task: Task,
  status: 'completed' | 'cancelled',
  completion?: { completedBy: string; output: Record<string, unknown> },
): void {
  d.case.tasks = d.case.tasks.filter((t) => t.id !== task.id);
  (d.case.closedTaskIds ??= []).push(task.id);
  const closed: Task = { ...task, status, closedAt: d.now };
  if (completion) {
    closed.completedBy = completion.completedBy;
    closed.output = completion.output;
  }
  d.effects.push({ type: 'task.upsert', task: closed });
  journal(d, status === 'completed' ? 'task.completed' : 'task.cancelled', {
    taskId: task.id,
    fragmentId: task.fragmentId,
    stateKey: task.stateKey,
    ...(completion ? { output: completion.output } : {}),
  });
  if (status === 'completed') {
    emit(d, 'task.completed', { taskId: task.id, fragmentId: task.fragmentId, completedBy: completion?.completedBy });
  }
}
