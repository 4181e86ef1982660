import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { CompiledFragment } from '../fragments/runtime.js';
import type { FragmentRef } from '../fragments/types.js';
import type { ContentChecker } from '../signals/content-kinds.js';
import type { SentimentAnalyzer } from '../signals/sentiment.js';
import type { CaseFileWrite } from './case-file-check.js';
import type { EngineCache } from './engine-cache.js';
import type { FragmentServices } from './fragment-services.js';
import { reject } from './rejection.js';
import type { CaseState, DecideContext, Effect, FragmentInstance, JournalEntry } from './types.js';

/** What one engine instance shares across decisions (compiled things only; no case data). */
export interface EngineInternals {
  services: FragmentServices;
  cache: EngineCache;
  /** Draft 2020-12, from json-schema/author-schemas.ts. */
  ajv: Ajv2020;
  /** The typed content kinds' checks (signals/content-kinds.ts). */
  content: ContentChecker;
  /** Sentiment of posts; absent: posts are stored without a computed sentiment. */
  sentiment?: SentimentAnalyzer;
}

/**
 * The working copy of one decision. `case` is a private deep copy of the input, so handlers
 * mutate it freely; effects and journal entries accumulate in order.
 */
export interface Draft {
  readonly ctx: DecideContext;
  readonly engine: EngineInternals;
  /** `ctx.now` as an ISO timestamp. */
  readonly now: string;
  /** The command's reason, carried by every journal entry it produces. */
  readonly reason: string | undefined;
  case: CaseState;
  /** The case as the command found it (read-only; `undefined` for `case.open`). */
  readonly before: CaseState | undefined;
  readonly effects: Effect[];
  readonly journal: JournalEntry[];
  /** What fragment actions wrote into the case file, in order (see case-file-check.ts). */
  readonly caseFileWrites: CaseFileWrite[];
}

export function createDraft(
  state: CaseState,
  ctx: DecideContext,
  engine: EngineInternals,
  reason: string | undefined,
  before?: CaseState,
): Draft {
  return { ctx, engine, now: ctx.now.toISOString(), reason, case: state, before, effects: [], journal: [], caseFileWrites: [] };
}

export function journal(d: Draft, type: string, data: Record<string, unknown>): JournalEntry {
  const entry: JournalEntry = { type, actor: d.ctx.actor, data, at: d.now };
  if (d.reason !== undefined) entry.reason = d.reason;
  d.journal.push(entry);
  return entry;
}

/** An outbound event; every one carries the case id. */
export function emit(d: Draft, type: string, data: Record<string, unknown>): void {
  d.effects.push({
    type: 'outbox.emit',
    event: { id: d.ctx.newId(), type, data: { caseId: d.case.id, ...data }, occurredAt: d.now },
  });
}

/** The compiled definition behind a ref, compiled once per engine. */
export function compiledFor(d: Draft, ref: FragmentRef): CompiledFragment {
  const cached = d.engine.cache.fragments.get(ref);
  if (cached) return cached;
  const definition = d.ctx.definitions(ref);
  if (!definition) {
    reject('DEFINITION_NOT_FOUND', `No fragment definition "${ref}"; check the key and version in the library.`, { ref });
  }
  const compiled = d.engine.services.compileFragment(definition);
  d.engine.cache.fragments.set(ref, compiled);
  return compiled;
}

export function findFragment(d: Draft, fragmentId: string): FragmentInstance {
  const fragment = d.case.fragments.find((f) => f.id === fragmentId);
  if (!fragment) {
    reject('FRAGMENT_NOT_FOUND', `Case ${d.case.id} has no fragment "${fragmentId}".`, { fragmentId });
  }
  return fragment;
}

export function findActiveFragment(d: Draft, fragmentId: string): FragmentInstance {
  const fragment = findFragment(d, fragmentId);
  if (fragment.status !== 'active') {
    reject('FRAGMENT_NOT_ACTIVE', `Fragment "${fragmentId}" is ${fragment.status}; only active fragments can change.`, {
      fragmentId,
      status: fragment.status,
    });
  }
  return fragment;
}

export function requireReason(reason: string | undefined, what: string): string {
  if (typeof reason !== 'string' || reason.trim() === '') {
    reject('REASON_REQUIRED', `${what} needs a reason; send a non-empty "reason".`);
  }
  return reason;
}

/** `verify-identity@2` -> `verify-identity`. */
export function refKey(ref: FragmentRef): string {
  const at = ref.lastIndexOf('@');
  return at < 0 ? ref : ref.slice(0, at);
}
