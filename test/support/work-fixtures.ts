/** Cases full of routable tasks, opened through the API (real engine rows). */
import { expect } from 'vitest';
import type { Actor } from './actors.js';
import type { caseApi, CaseView } from './case-api.js';

export interface TaskShape {
  title: string;
  queue: string;
  skills?: Record<string, number>;
  effort?: number;
  kind?: string;
  role?: 'agent' | 'supervisor';
}

/** An inline machine with one parallel region per task; each task's event finishes its region. */
export function parallelTasks(id: string, tasks: TaskShape[]) {
  const regions: Record<string, unknown> = {};
  tasks.forEach((task, i) => {
    regions[`r${i}`] = {
      initial: 'open',
      states: {
        open: { tags: ['task'], meta: { task: { ...task, event: `DONE_${i}` } }, on: { [`DONE_${i}`]: 'done' } },
        done: { type: 'final' },
      },
    };
  });
  return { id, initial: 'work', states: { work: { type: 'parallel', states: regions } } };
}

/** Opens a callback-request-free billing case and adds the tasks as one inline fragment. */
export async function openCaseWithTasks(
  api: ReturnType<typeof caseApi>,
  actor: Actor,
  tasks: TaskShape[],
  options: { priority?: 'low' | 'normal' | 'high' | 'urgent'; title?: string } = {},
): Promise<CaseView> {
  const opened = await api.open(actor, {
    template: 'billing-dispute',
    title: options.title ?? 'Routing',
    ...(options.priority ? { priority: options.priority } : {}),
    case_file: { account: { id: 'acc-w' } },
  });
  const c = await api.addFragment(actor, opened.id, { definition: { title: 'Work', machine: parallelTasks('work', tasks) } });
  expect(c.tasks.filter((t) => tasks.some((x) => x.title === t.title)).length).toBe(tasks.length);
  return c;
}
