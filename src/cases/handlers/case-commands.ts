import { emit, journal, type Draft } from '../draft.js';
import { reject } from '../rejection.js';
import type { SocialPostData } from '../../signals/content-kinds.js';
import { receivePost } from '../post-signals.js';
import { recomputePriority } from '../priority.js';
import { runReachEscalations } from '../reach-escalation.js';
import { type Assignment, type Command, type ContentItem } from '../types.js';
import { windDown } from '../wind-down.js';

type Reassign = Extract<Command, { type: 'case.reassign' }>;
type AddContent = Extract<Command, { type: 'content.add' }>;
type Close = Extract<Command, { type: 'case.close' }>;

/** An assignment names a person or a queue (non-empty strings). */
export function checkAssignment(assignment: Assignment | undefined): Assignment {
  const userId = nonEmpty(assignment?.userId);
  const queue = nonEmpty(assignment?.queue);
  if (userId === undefined && queue === undefined) {
    reject('VALIDATION_FAILED', 'An assignment needs a "user_id" or a "queue".');
  }
  return { ...(userId !== undefined ? { userId } : {}), ...(queue !== undefined ? { queue } : {}) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** Changes the case owner and/or queue. Open tasks keep their own assignment. */
export function reassignCase(d: Draft, command: Reassign): Record<string, unknown> {
  const to = checkAssignment(command.assignment);
  const from = { ownerId: d.case.ownerId ?? null, queue: d.case.queue ?? null };
  if (to.userId !== undefined) d.case.ownerId = to.userId;
  if (to.queue !== undefined) d.case.queue = to.queue;
  const now = { ownerId: d.case.ownerId ?? null, queue: d.case.queue ?? null };
  journal(d, 'case.reassigned', { from, to: now });
  emit(d, 'case.reassigned', now);
  return now;
}

/**
 * Attaches evidence (note, attachment, social post, CRM profile) to the case, checked against its
 * kind's schema (CONTENT_INVALID names the field). A social post whose identity (channel + post
 * id or URL) is already on the case updates it instead (cases/post-signals.ts). A post runs the
 * reach escalations and recomputes the priority.
 */
export function addContent(d: Draft, command: AddContent): Record<string, unknown> {
  const checked = d.engine.content.check(command.kind, command.data);
  if (!checked.ok) {
    const first = checked.problems[0]!;
    reject('CONTENT_INVALID', `The ${String(command.kind)} content is invalid: ${first.pointer} ${first.detail}. Nothing was written; fix the field${checked.problems.length > 1 ? 's listed in errors' : ''} and send it again.`, {
      errors: checked.problems.map((p) => ({ pointer: p.pointer, in: 'body', detail: p.detail })),
    });
  }
  if (checked.kind === 'social_post') {
    const received = receivePost(d, checked.data as SocialPostData);
    runReachEscalations(d);
    recomputePriority(d, received.updated ? 'content.updated' : 'content.added');
    return received;
  }
  const item: ContentItem = {
    id: d.ctx.newId(),
    kind: checked.kind,
    data: structuredClone(checked.data),
    addedBy: d.ctx.actor.id,
    addedAt: d.now,
  };
  d.effects.push({ type: 'content.add', item });
  journal(d, 'content.added', { contentId: item.id, kind: item.kind });
  emit(d, 'content.added', { contentId: item.id, kind: item.kind });
  return { contentId: item.id };
}

/**
 * Closes (or cancels) the case. With required goals not achieved a reason is needed. Open
 * tasks, active fragments and all timers are cancelled.
 */
export function closeCase(d: Draft, command: Close): Record<string, unknown> {
  const status = command.status ?? 'closed';
  const unmet = d.case.goals.filter((g) => g.required && g.status === 'open').map((g) => g.key);
  const reason = nonEmpty(command.reason);
  if (unmet.length > 0 && reason === undefined) {
    reject('UNMET_REQUIRED_GOALS', `Required goals are not achieved (${unmet.join(', ')}); give a reason to close anyway.`, {
      unmet_goals: unmet,
    });
  }
  const wound = windDown(d);
  const from = d.case.status;
  if (d.case.heldAt !== undefined) {
    // Closing a held case ends its hold.
    d.case.heldMsTotal = (d.case.heldMsTotal ?? 0) + Math.max(0, d.ctx.now.getTime() - Date.parse(d.case.heldAt));
    delete d.case.heldAt;
    delete d.case.holdReason;
  }
  d.case.status = status;
  d.case.closedAt = d.now;
  if (reason !== undefined) d.case.closeReason = reason;
  journal(d, 'case.closed', { from, status, unmetGoals: unmet, ...wound });
  emit(d, 'case.closed', { status, ...(reason !== undefined ? { reason } : {}) });
  return { status, unmetGoals: unmet };
}
