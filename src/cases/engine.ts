/**
 * The case engine: `createEngine(options).decide(case, command, ctx) -> Decision`.
 *
 * Semantics worth knowing at the edge (each is explained where it is implemented):
 * - Every successful command bumps `version` by one and sets `updatedAt = ctx.now`, after goals
 *   are re-evaluated (`goals.ts`); `auto` templates resolve when every required goal is
 *   achieved. Exceptions, which return the input case object and write nothing: a stale
 *   `timer.fire` (`result.noop`, also on a case that is no longer open) and a `dryRun` migration.
 * - A rejected command is `{ ok: false, error }` — no case, no effects, no journal.
 * - A case that is not `open` refuses every command with CASE_NOT_OPEN, except `case.close`
 *   on a `resolved` case and `timer.fire` (a no-op). An `on_hold` case also takes
 *   `case.resume`, `case.close`, `content.add`, the three reassigns and `timer.fire` (its
 *   fragment delays keep running).
 * - Hold (`case.hold`, template `pausable`, reason required): SLA timers of open goals are
 *   cancelled; `case.resume` gives every open, not breached goal back the time it had left at the
 *   hold — working time under a business calendar — and re-arms its points (`handlers/hold-commands.ts`).
 * - Leaving `open` (resolved, closed, cancelled) cancels active fragments, their open tasks and
 *   every pending timer (`wind-down.ts`).
 * - The case file: every command whose fragment actions write it must leave it valid against the
 *   template's `caseFileSchema` (draft 2020-12), else CASE_FILE_WRITE_INVALID naming the pointers
 *   and the writing actions (`case-file-check.ts`); a fragment delay that would break it is spent
 *   and journaled `timer.failed`, an SLA escalation that would is skipped.
 * - Events are taken when XState's `snapshot.can()` says so, also a transition to the state itself;
 *   `reenter: true` exits and enters again (entry/exit actions, timers re-armed, task reopened).
 * - Tasks: opened on entering a `task`-tagged state, cancelled when it is left, completed by
 *   `task.complete` (output validated against the form, sent as `{ type: task.event, data }`,
 *   not merged into the case file). Assignment: fragment assignment, task queue, case queue,
 *   template default queue, case owner, else queue `unassigned` (`tasks.ts`).
 * - Timers: XState delays and goal deadlines become `timer.schedule` effects with fresh ids
 *   (no `:`); the fragment instance keeps `pendingTimers` (send id -> timer id) and
 *   `timerEvents` (timer id -> event) (`timers.ts`).
 * - Goal SLA points (`sla.ts`): a deadline arms a breach timer (`deadlineTimerId`) and, with a
 *   template SLA `warnBefore`, a warning timer (`warningTimerId`); both `goal_deadline` with
 *   `point` and `event: { type: 'tessera.goal.warning' | 'tessera.goal.breach', goalKey }`.
 *   Firing sets `goal.sla` (on_track -> at_risk -> breached) and runs the escalations, each
 *   journaled by actor `{ id: 'sla', role: 'system' }`: notify (outbound `goal.at_risk` /
 *   `goal.breached` with the role/queue), setPriority (raise only), reassign (case queue, owner
 *   cleared). Achieving cancels both; achieving after the deadline sets `achievedLate`.
 *   Moving a deadline re-arms both. Deadlines and warning points count working time under a
 *   business calendar (`business-calendar.ts`) when the goal or template has one; so do task due
 *   times and ISO `after` delays under the template's calendar (`tasks.ts`, `timers.ts`).
 * - Authored definitions (inline, checklist) come back as `definition.store` effects under
 *   `inline-<fragmentId>@1` / `checklist-<fragmentId>@1`; the edge must store them so that
 *   `ctx.definitions` resolves them for later commands.
 *
 * Outbound events (`outbox.emit`, every `data` carries `caseId`): case.opened, case.resolved,
 * case.closed, case.reassigned, case.held, case.resumed, goal.at_risk, goal.breached, task.assigned, task.completed, fragment.completed,
 * fragment.cancelled, goal.added, goal.updated, goal.achieved, milestone.reached,
 * content.added, content.updated, case.priority_changed, case.escalated, and the fragments' own `emit` event types.
 * - Priority (`priority.ts`): effective = override ?? max(floor, score's priority); the score is
 *   recomputed at open, on content, on `priority.recompute`; reach escalations (`reach-escalation.ts`)
 *   run once per threshold crossed.
 */
import { createAuthorSchemaAjv } from '../json-schema/author-schemas.js';
import { createContentChecker } from '../signals/content-kinds.js';
import type { SentimentAnalyzer } from '../signals/sentiment.js';
import { decide } from './decide.js';
import { acceptedEvents, type AcceptedEventsView } from './accepted-events.js';
import { createEngineCache, type EngineCache } from './engine-cache.js';
import { defaultFragmentServices, type FragmentServices } from './fragment-services.js';
import type { CaseState, Command, DecideContext, Decision } from './types.js';

export interface EngineOptions {
  /** The fragment runtime, validator, checklist builder and CEL (default: src/fragments/). */
  fragments?: FragmentServices;
  /** Compiled fragments, schemas and expressions; share one across engines if you like. */
  cache?: EngineCache;
  /** Entries per cache when `cache` is not given (default 500). */
  cacheSize?: number;
  /**
   * Computes the sentiment of posts (signals/sentiment.ts; load the model once per process and
   * share the analyzer). Absent: posts keep only the sentiment their sender gave.
   */
  sentiment?: SentimentAnalyzer;
}

export interface Engine {
  /**
   * Decides one command against one case (`undefined` for `case.open`). Pure; see `decide.ts`.
   * Never throws for a domain refusal: those come back as `{ ok: false, error }`.
   */
  decide(state: CaseState | undefined, command: Command, ctx: DecideContext): Decision;
  /**
   * Which events the case accepts now (read model for `GET /v1/cases/:id`), compiled through
   * this engine's cache. Never throws for an unresolvable definition (that fragment accepts none).
   */
  acceptedEvents(state: CaseState, ctx: Pick<DecideContext, 'definitions' | 'customer'>): AcceptedEventsView;
}

/** Builds a case engine. Everything it caches lives in this instance (or the given cache). */
export function createEngine(options: EngineOptions = {}): Engine {
  // Case-file schemas and task forms: draft 2020-12, as the loader checked them; no coercion.
  const ajv = createAuthorSchemaAjv();
  const internals = {
    services: options.fragments ?? defaultFragmentServices(),
    cache: options.cache ?? createEngineCache(options.cacheSize),
    ajv,
    content: createContentChecker(),
    ...(options.sentiment ? { sentiment: options.sentiment } : {}),
  };
  return {
    decide: (state, command, ctx) => decide(internals, state, command, ctx),
    acceptedEvents: (state, ctx) =>
      acceptedEvents(state, (ref) => {
        const cached = internals.cache.fragments.get(ref);
        if (cached) return cached;
        const definition = ctx.definitions(ref);
        if (!definition) return undefined;
        const compiled = internals.services.compileFragment(definition);
        internals.cache.fragments.set(ref, compiled);
        return compiled;
      }, ctx.customer),
  };
}
