/**
 * Who a committed change is for, by the API's own object-level rules (http/access.ts): the live
 * stream calls `canSeeCase`, `isAssignedTo` and `isQueuedTo` themselves, on the part of the case
 * they read (owner, queue, task and fragment assignments) as the feed projects it in SQL — so the
 * stream and the API cannot drift apart.
 */
import type { CaseState } from '../cases/types.js';
import { canSeeCase, isAssignedTo, isQueuedTo } from '../http/access.js';
import type { Principal } from '../persistence/api-key-store.js';
import type { CaseAccessRow } from '../persistence/feed-store.js';

const orUndefined = (value: string | null) => (value === null ? undefined : value);

/** The fields of a case that access.ts reads, and nothing else (the rest is never looked at). */
export function accessView(row: CaseAccessRow): CaseState {
  const view = {
    ownerId: orUndefined(row.ownerId),
    queue: orUndefined(row.queue),
    tasks: row.tasks.map((t) => ({ assignment: { userId: orUndefined(t.userId), queue: orUndefined(t.queue) }, claimedBy: orUndefined(t.claimedBy) })),
    fragments: row.fragmentUsers.map((userId) => ({ assignment: { userId } })),
  };
  return view as unknown as CaseState;
}

export function mayWatch(principal: Principal, view: CaseState): boolean {
  return canSeeCase(principal, view);
}

/** `inbox`: the case is the user's (owner, or a task or fragment assigned to or claimed by them). */
export function inInbox(view: CaseState, userId: string): boolean {
  return isAssignedTo(view, userId);
}

export function inQueue(view: CaseState, queue: string): boolean {
  return isQueuedTo(view, [queue]);
}

/** The users whose inbox and the queues whose list the case belongs to now. */
export function relevanceOf(view: CaseState): { users: Set<string>; queues: Set<string> } {
  const users = new Set<string>();
  const queues = new Set<string>();
  if (view.ownerId) users.add(view.ownerId);
  if (view.queue) queues.add(view.queue);
  for (const t of view.tasks) {
    if (t.assignment.userId) users.add(t.assignment.userId);
    if (t.claimedBy) users.add(t.claimedBy);
    if (t.assignment.queue) queues.add(t.assignment.queue);
  }
  for (const f of view.fragments) if (f.assignment?.userId) users.add(f.assignment.userId);
  return { users, queues };
}
