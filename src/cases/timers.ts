import type { StepResult } from '../fragments/runtime.js';
import { addWorkingTime } from './business-calendar.js';
import type { Draft } from './draft.js';
import { addMilliseconds } from './time.js';
import type { FragmentInstance } from './types.js';

/** A fresh timer id; it doubles as the BullMQ job id, which may not contain `:`. */
export function newTimerId(d: Draft): string {
  return d.ctx.newId().replaceAll(':', '-');
}

/**
 * Turns the delays of one fragment step into timer effects: `cancel` first (leaving a state),
 * then `schedule` (entering one). The instance remembers `sendId -> timerId` and the event to
 * deliver, so `timer.fire` needs only the timer id.
 */
export function applyDelays(d: Draft, f: FragmentInstance, delays: StepResult['delays'], machineId: string): void {
  for (const sendId of delays.cancel) cancelFragmentTimer(d, f, sendId);
  for (const request of delays.schedule) {
    // Re-entering a state re-arms its delay: the old timer must not fire too.
    cancelFragmentTimer(d, f, request.sendId);
    const id = newTimerId(d);
    (f.pendingTimers ??= {})[request.sendId] = id;
    (f.timerEvents ??= {})[id] = request.event;
    d.effects.push({
      type: 'timer.schedule',
      timer: {
        id,
        dueAt: delayDue(d, request),
        kind: 'fragment_delay',
        fragmentId: f.id,
        event: request.event,
      },
    });
  }
  cancelTimersOfInactiveStates(d, f, machineId);
}

const DELAY_KEY = /^xstate\.after\.([^.]+)\./;

/**
 * When an `after` delay is due. Under the template's business calendar an ISO 8601 key (`PT4H`,
 * `P1D`: business language) counts working time — a `PT2H` reminder entered Friday 16:00 with 9-17
 * hours fires Monday 10:00; a millisecond key (`"5000"`: a technical wait) is always elapsed time,
 * as is every delay of a template without a calendar. The key is read back from XState's event
 * type, `xstate.after.<key>.<machine>.<state>`.
 */
function delayDue(d: Draft, request: StepResult['delays']['schedule'][number]): string {
  const calendar = d.ctx.template.calendar;
  const key = DELAY_KEY.exec(request.event.type)?.[1];
  if (calendar === undefined || key === undefined || !key.startsWith('P')) return addMilliseconds(d.ctx.now, request.delayMs);
  return addWorkingTime(d.ctx.now, key, calendar).toISOString();
}

export function cancelFragmentTimer(d: Draft, f: FragmentInstance, sendId: string): void {
  const timerId = f.pendingTimers?.[sendId];
  if (timerId === undefined) return;
  delete f.pendingTimers?.[sendId];
  delete f.timerEvents?.[timerId];
  d.effects.push({ type: 'timer.cancel', timerId });
}

export function cancelAllFragmentTimers(d: Draft, f: FragmentInstance): void {
  for (const sendId of Object.keys(f.pendingTimers ?? {})) cancelFragmentTimer(d, f, sendId);
}

/** The send id of the pending timer `timerId` on `f`, if it is one of its timers. */
export function sendIdOf(f: FragmentInstance, timerId: string): string | undefined {
  for (const [sendId, id] of Object.entries(f.pendingTimers ?? {})) if (id === timerId) return sendId;
  return undefined;
}

const AFTER_EVENT = /^xstate\.after\.[^.]+\.(.+)$/;

/**
 * Safety net: an `after` delay belongs to a state (`xstate.after.<delay>.<machine>.<path>`).
 * When that state is no longer active — a jump or migration that rebuilt the snapshot without
 * reporting a cancel — its timer is cancelled here, so the timer table never keeps stale rows.
 */
function cancelTimersOfInactiveStates(d: Draft, f: FragmentInstance, machineId: string): void {
  const active = f.activeStates ?? [];
  for (const [sendId, timerId] of Object.entries(f.pendingTimers ?? {})) {
    const match = AFTER_EVENT.exec(f.timerEvents?.[timerId]?.type ?? '');
    const stateId = match?.[1];
    if (stateId === undefined || stateId === machineId || !stateId.startsWith(`${machineId}.`)) continue;
    const path = stateId.slice(machineId.length + 1);
    if (!active.some((s) => s === path || s.startsWith(`${path}.`))) cancelFragmentTimer(d, f, sendId);
  }
}
