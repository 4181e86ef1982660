import type { CompiledFragment, FragmentAction, StepResult } from '../fragments/runtime.js';
import { recordCaseFileWrite } from './case-file-check.js';
import { setPath } from './case-file.js';
import { emit, journal, type Draft } from './draft.js';
import { setPriorityFloor } from './priority.js';
import { syncTasks, openTasksOf, closeTask } from './tasks.js';
import { applyDelays, cancelAllFragmentTimers } from './timers.js';
import type { FragmentInstance } from './types.js';

/**
 * Folds one fragment step into the case: the new snapshot, its actions (case file, milestones,
 * outbound events, priority), its delays (timers), the task diff, and completion.
 *
 * `rebuilt`: the step is a jump or a migration, which rebuilds the snapshot by entering states
 * afresh. Open tasks of states still active then stay open (same id, claims kept); after a
 * transition, a task state that was exited and entered again (re-entry) reopens its task.
 */
export function applyStep(d: Draft, f: FragmentInstance, compiled: CompiledFragment, step: StepResult, rebuilt = false): void {
  f.snapshot = step.snapshot;
  f.activeStates = [...step.activeStates];
  for (const action of step.actions) applyAction(d, f, action);
  applyDelays(d, f, step.delays, compiled.definition.machine.id);
  if (step.status === 'done') {
    f.status = 'done';
    f.endedAt = d.now;
  }
  syncTasks(d, f, compiled, rebuilt ? [] : step.exited);
  if (step.status === 'done') {
    cancelAllFragmentTimers(d, f);
    journal(d, 'fragment.completed', { fragmentId: f.id, definition: f.definition });
    emit(d, 'fragment.completed', { fragmentId: f.id, definition: f.definition, title: f.title });
  }
}

function applyAction(d: Draft, f: FragmentInstance, action: FragmentAction): void {
  switch (action.type) {
    case 'assignCaseFile':
      setPath(d.case.caseFile, action.path, action.value);
      recordCaseFileWrite(d, { path: action.path, fragmentId: f.id, definition: f.definition, action: 'assignCaseFile' });
      journal(d, 'case_file.assigned', { fragmentId: f.id, path: action.path, value: action.value ?? null });
      return;
    case 'setMilestone':
      // A milestone is reached once; re-entering the state keeps the first time.
      if (d.case.milestones[action.key] !== undefined) return;
      d.case.milestones[action.key] = d.now;
      journal(d, 'milestone.reached', { fragmentId: f.id, milestone: action.key });
      emit(d, 'milestone.reached', { fragmentId: f.id, milestone: action.key });
      return;
    case 'emit':
      emit(d, action.eventType, { fragmentId: f.id, ...action.data });
      return;
    case 'setPriority':
    {
      // Sets the floor (cases/priority.ts): the score may still keep the case higher, an override wins.
      const from = d.case.priority;
      const set = setPriorityFloor(d, action.priority, 'set');
      if (set.to === from) return;
      journal(d, 'case.priority_changed', { fragmentId: f.id, from, to: set.to });
      emit(d, 'case.priority_changed', { from, to: set.to, trigger: `fragment:${f.id}` });
      return;
    }
  }
}

/** Ends an active fragment early: its open tasks and timers are cancelled. */
export function endFragment(d: Draft, f: FragmentInstance): { tasksCancelled: string[] } {
  const tasks = openTasksOf(d, f.id);
  for (const task of tasks) closeTask(d, task, 'cancelled');
  cancelAllFragmentTimers(d, f);
  f.status = 'cancelled';
  f.endedAt = d.now;
  return { tasksCancelled: tasks.map((t) => t.id) };
}
