/**
 * Plan as of any time: the case at a past version (or at the last version made by a given
 * time), rebuilt by folding its journal through the engine (cases/replay.ts); no snapshot is
 * stored or read.
 */
import type { Kysely } from 'kysely';
import type { Engine } from '../cases/engine.js';
import { planView, type PlanView } from '../cases/plan-view.js';
import { replay, type ReplayStep } from '../cases/replay.js';
import type { CaseState } from '../cases/types.js';
import type { Catalog } from '../commands/catalog.js';
import { TesseraError } from '../errors.js';
import { loadCase } from '../persistence/case-store.js';
import type { Database } from '../persistence/schema.js';
import { loadReplaySteps, replayResolver } from './journal-steps.js';

/** A version number, or a time (the last version made at or before it). */
export type PlanAt = { version: number } | { time: Date };

export interface HistoryDeps {
  engine: Engine;
  catalog: Catalog;
}

export interface ReconstructedCase {
  state: CaseState;
  /** False when the fold stopped before the version asked for (see `diverged`). */
  complete: boolean;
  diverged?: { version: number; reason: string };
}

export interface PlanAsOf {
  plan: PlanView;
  /** What was asked: `{ version }` or `{ time }` (ISO). */
  requested: { version?: number; time?: string };
  complete: boolean;
  diverged: { version: number; reason: string } | null;
}

/** Which version `at` names, given the case's steps and its current version. */
function versionAt(steps: readonly ReplayStep[], current: number, at: PlanAt): number {
  if ('version' in at) {
    if (!Number.isInteger(at.version) || at.version < 1 || at.version > current) {
      throw new TesseraError('HISTORY_NOT_AVAILABLE', `The case has versions 1 to ${current}; ask for one of them (at=${at.version})`, { field: 'at', current_version: current });
    }
    return at.version;
  }
  const t = at.time.getTime();
  let version = 0;
  for (const s of steps) {
    const stepAt = Date.parse(s.kind === 'command' ? s.record.at : s.entry.at);
    if (stepAt <= t) version = s.version;
    else break;
  }
  if (version === 0) {
    throw new TesseraError('HISTORY_NOT_AVAILABLE', `The case was not open yet at ${at.time.toISOString()}; ask for a time after it opened`, { field: 'at' });
  }
  return version;
}

/**
 * The case as it was at `at`, rebuilt from the journal; undefined when there is no such case.
 * Throws HISTORY_NOT_AVAILABLE for a version or time outside the case's life, or when the journal
 * holds no command record for its first version (a case written before migration 0045).
 */
export async function reconstructCase(db: Kysely<Database>, deps: HistoryDeps, caseId: string, at: PlanAt): Promise<ReconstructedCase | undefined> {
  const live = await loadCase(db, caseId);
  if (!live) return undefined;
  const steps = (await loadReplaySteps(db, [caseId])).get(caseId) ?? [];
  return reconstructFrom(db, deps, live, steps, at);
}

/** `reconstructCase` for a case and steps already loaded (the caller authorised `live`). */
export async function reconstructFrom(
  db: Kysely<Database>,
  deps: HistoryDeps,
  live: CaseState,
  steps: readonly ReplayStep[],
  at: PlanAt,
): Promise<ReconstructedCase> {
  const version = versionAt(steps, live.version, at);
  if (steps[0]?.version !== 1) {
    throw new TesseraError('HISTORY_NOT_AVAILABLE', `Case ${live.id} was opened before commands were recorded for replay; its history can be read on the timeline only`, { field: 'at' });
  }
  const resolver = await replayResolver(db, deps.catalog, steps, live.fragments.map((f) => f.definition));
  const result = replay(deps.engine, steps, resolver, { untilVersion: version });
  if (!result.state) {
    throw new TesseraError('HISTORY_NOT_AVAILABLE', `Case ${live.id} cannot be rebuilt: ${result.diverged?.reason ?? 'no history'}`, { field: 'at' });
  }
  return {
    state: result.state,
    complete: result.complete && result.state.version === version,
    ...(result.diverged ? { diverged: result.diverged } : {}),
  };
}

/** The plan as of `at` (see `reconstructCase`). */
export async function reconstructPlan(db: Kysely<Database>, deps: HistoryDeps, caseId: string, at: PlanAt): Promise<PlanAsOf | undefined> {
  const rebuilt = await reconstructCase(db, deps, caseId, at);
  return rebuilt && planAsOf(rebuilt, at);
}

export function planAsOf(rebuilt: ReconstructedCase, at: PlanAt): PlanAsOf {
  return {
    plan: planView(rebuilt.state),
    requested: 'version' in at ? { version: at.version } : { time: at.time.toISOString() },
    complete: rebuilt.complete,
    diverged: rebuilt.diverged ?? null,
  };
}
