/**
 * Reach escalation: when a linked post's reach (the widest post) or virality (the fastest
 * post's engagements per hour) reaches a threshold of the template's `escalations`, the case's
 * priority rises (to the escalation's `raisePriority`, default one step up) and its actions run —
 * once per threshold per case: crossed thresholds are remembered in `priorityInfo.crossed`, so a
 * later update below the next threshold, or a post that drops and grows again, does nothing.
 *
 * Each crossing journals `case.escalated` and emits outbound `case.escalated` (with the notify
 * targets); actions are journaled by `ESCALATION_ACTOR`, as SLA escalations are by theirs.
 */
import type { SignalEscalation } from '../templates/types.js';
import { viralityOf } from '../signals/virality.js';
import { caseFileProblems, describeCaseFileProblems } from './case-file-check.js';
import { compiledFor, emit, type Draft } from './draft.js';
import { setPriorityFloor, stepUp } from './priority.js';
import { checkpoint, rollBack } from './sla.js';
import { startFragment } from './start-fragment.js';
import type { Actor, JournalEntry, PostSignal } from './types.js';

export const ESCALATION_ACTOR: Actor = { id: 'escalation', role: 'system' };

export function escalationKey(e: SignalEscalation): string {
  return e.when.reach !== undefined ? `reach>=${e.when.reach}` : `virality>=${e.when.virality}`;
}

interface Reading {
  metric: 'reach' | 'virality';
  value: number;
  contentId: string;
}

function readings(posts: readonly PostSignal[]): { reach?: Reading; virality?: Reading } {
  let reach: Reading | undefined;
  let virality: Reading | undefined;
  for (const p of posts) {
    if (p.reach !== undefined && (reach === undefined || p.reach > reach.value)) reach = { metric: 'reach', value: p.reach, contentId: p.contentId };
    const v = viralityOf(p.samples, p.postedAt)?.perHour;
    if (v !== undefined && (virality === undefined || v > virality.value)) virality = { metric: 'virality', value: v, contentId: p.contentId };
  }
  return { ...(reach ? { reach } : {}), ...(virality ? { virality } : {}) };
}

/** Runs every escalation whose threshold is reached and not crossed before. Returns how many ran. */
export function runReachEscalations(d: Draft): number {
  const escalations = d.ctx.template.escalations ?? [];
  const info = d.case.priorityInfo;
  if (escalations.length === 0 || !info) return 0;
  const now = readings(d.case.posts ?? []);
  let ran = 0;
  // Lower thresholds first, so a jump over two runs them in the order they would have been crossed.
  const due = escalations
    .map((e) => ({ e, key: escalationKey(e), reading: e.when.reach !== undefined ? now.reach : now.virality, threshold: (e.when.reach ?? e.when.virality)! }))
    .filter((x) => !info.crossed.includes(x.key) && x.reading !== undefined && x.reading.value >= x.threshold)
    .sort((a, b) => a.threshold - b.threshold);
  for (const { e, key, reading, threshold } of due) {
    // Read through d.case each time: a refused escalation fragment rolls the case object back.
    d.case.priorityInfo!.crossed.push(key);
    const raise = setPriorityFloor(d, e.raisePriority ?? stepUp(d.case.priority), 'raise');
    const notify = e.actions.flatMap((a) =>
      a.action === 'notify' ? [{ ...(a.role !== undefined ? { role: a.role } : {}), ...(a.queue !== undefined ? { queue: a.queue } : {}) }] : [],
    );
    const crossing = { threshold: key, metric: reading!.metric, limit: threshold, value: reading!.value, contentId: reading!.contentId };
    entry(d, 'case.escalated', { ...crossing, priority: raise, actions: e.actions.map((a) => a.action) });
    emit(d, 'case.escalated', { ...crossing, priority: raise.to, notify });
    runActions(d, key, e);
    ran += 1;
  }
  return ran;
}

function runActions(d: Draft, threshold: string, e: SignalEscalation): void {
  const at = { threshold };
  for (const a of e.actions) {
    switch (a.action) {
      case 'notify':
        entry(d, 'escalation.notified', { ...at, ...(a.role !== undefined ? { role: a.role } : {}), ...(a.queue !== undefined ? { queue: a.queue } : {}) });
        break;
      case 'setPriority': {
        const r = setPriorityFloor(d, a.priority, 'raise');
        entry(d, 'escalation.priority_raised', { ...at, ...r });
        break;
      }
      case 'reassign': {
        if (a.queue === undefined) {
          entry(d, 'escalation.skipped', { ...at, action: a.action, why: 'no queue to reassign to' });
          break;
        }
        const from = { ownerId: d.case.ownerId ?? null, queue: d.case.queue ?? null };
        d.case.queue = a.queue;
        delete d.case.ownerId;
        const to = { ownerId: null, queue: a.queue };
        entry(d, 'case.reassigned', { ...at, from, to, ...(a.role !== undefined ? { role: a.role } : {}) });
        emit(d, 'case.reassigned', to);
        break;
      }
      case 'startFragment': {
        if (d.case.fragments.some((f) => f.definition === a.fragment && f.status === 'active')) {
          entry(d, 'escalation.skipped', { ...at, action: a.action, why: `${a.fragment} is already active` });
          break;
        }
        const mark = checkpoint(d);
        const f = startFragment(d, {
          id: d.ctx.newId(),
          ref: a.fragment,
          compiled: compiledFor(d, a.fragment),
          source: 'escalation',
          ...(a.queue !== undefined ? { assignment: { queue: a.queue } } : {}),
        });
        const problems = caseFileProblems(d);
        if (problems.length > 0) {
          rollBack(d, mark);
          entry(d, 'escalation.skipped', {
            ...at,
            action: a.action,
            definition: a.fragment,
            why: `starting ${a.fragment} would leave the case file invalid: ${describeCaseFileProblems(problems)}`,
          });
          break;
        }
        entry(d, 'escalation.fragment_started', { ...at, fragmentId: f.id, definition: a.fragment });
        break;
      }
    }
  }
}

function entry(d: Draft, type: string, data: Record<string, unknown>): void {
  const e: JournalEntry = { type, actor: ESCALATION_ACTOR, data, at: d.now };
  if (d.reason !== undefined) e.reason = d.reason;
  d.journal.push(e);
}
