/**
 * What-if: an adaptation command decided for real by the pure engine, on the case as it is, and
 * not written. Nothing is locked and nothing is stored — no case row, journal, command record,
 * timer, task, outbox, goal view or idempotency key — because the decision never reaches the case
 * store; the command's own checks (authorisation, `If-Match`, the engine's refusals) answer
 * exactly as the real command would.
 *
 * Besides the resulting plan (cases/plan-view.ts, the shape plan-as-of answers), it projects the
 * open goals' SLA from the deadlines and how long the still-running fragments took in resolved
 * cases (cases/sla-projection.ts), and says what the people it touches would carry after it.
 */
import type { Kysely, Transaction } from 'kysely';
import { planView, type PlanView } from '../cases/plan-view.js';
import { projectGoals, type GoalProjection } from '../cases/sla-projection.js';
import type { Actor, CaseState, Command, Decision } from '../cases/types.js';
import type { Engine } from '../cases/engine.js';
import { customerSnapshot } from '../customers/snapshot.js';
import type { CustomerState } from '../customers/types.js';
import { TesseraError, ERROR_CODES, type ErrorCode } from '../errors.js';
import { peopleLoad } from '../persistence/capacity-queries.js';
import { loadCase } from '../persistence/case-store.js';
import { loadCustomer } from '../persistence/customer-store.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import { fragmentDurations } from '../persistence/fragment-durations.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';

export interface WhatIfDeps {
  db: Kysely<Database>;
  engine: Engine;
  catalog: Catalog;
  /** The database's time as this process knows it (the time the command would decide at). */
  now: () => Date;
  newId?: () => string;
}

export interface WhatIfRequest {
  caseId: string;
  command: Command;
  actor: Actor;
  expectedVersion?: number;
  authorize?: (state: CaseState) => void;
  /** Completes the command from the case (a handoff's journal input), as the real command does. */
  enrich?: (trx: Transaction<Database>, state: CaseState) => Promise<Command>;
}

export interface CapacityAfter {
  user_id: string;
  /** Units of open task effort held now, and after the command. */
  used_before: number;
  used_after: number;
  /** Sum of their capacity buckets; null for an id with no user row. */
  limit: number | null;
  over_capacity: boolean;
}

export interface WhatIf {
  before: CaseState;
  after: CaseState;
  customer?: CustomerState;
  result: Record<string, unknown>;
  plan: PlanView;
  goals_projection: GoalProjection[];
  capacity: CapacityAfter[];
}

/** Command types that take `dry_run`. */
export const WHAT_IF_COMMANDS: ReadonlySet<Command['type']> = new Set([
  'fragment.add',
  'fragment.migrate',
  'fragment.jump',
  'fragment.cancel',
  'fragment.reassign',
  'goal.add',
  'goal.update',
  'case.reassign',
  'task.reassign',
]);

function refuse(error: { code: string; message: string; details?: Record<string, unknown> }): never {
  const code = (error.code in ERROR_CODES ? error.code : 'VALIDATION_FAILED') as ErrorCode;
  const details = error.details
    ? Object.fromEntries(Object.entries(error.details).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]))
    : undefined;
  throw new TesseraError(code, error.message, details);
}

/** Open task effort per person in a case. */
function heldUnits(c: CaseState): Map<string, number> {
  const units = new Map<string, number>();
  for (const t of c.tasks) {
    if (t.status !== 'open' || !t.assignment.userId) continue;
    units.set(t.assignment.userId, (units.get(t.assignment.userId) ?? 0) + (t.effort ?? 1));
  }
  return units;
}

/** The person a command hands work to, if it names one. */
function targetOf(command: Command): string | undefined {
  switch (command.type) {
    case 'case.reassign':
    case 'fragment.reassign':
    case 'task.reassign':
      return command.assignment.userId;
    case 'fragment.add':
      return command.assignment?.userId;
    default:
      return undefined;
  }
}

export async function whatIf(deps: WhatIfDeps, request: WhatIfRequest): Promise<WhatIf> {
  if (!WHAT_IF_COMMANDS.has(request.command.type)) throw new Error(`what-if: ${request.command.type} is not an adaptation command`);
  // A read-only transaction: the enrich step reads the journal like the real command does.
  const decided = await deps.db.transaction().execute(async (trx) => {
    const before = await loadCase(trx, request.caseId);
    if (!before) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${request.caseId}`);
    request.authorize?.(before);
    if (request.expectedVersion !== undefined && request.expectedVersion !== before.version) {
      throw new TesseraError('VERSION_MISMATCH', `The case is at version ${before.version}, not ${request.expectedVersion}; reload it and try again`, {
        current_version: before.version,
      });
    }
    const missing = before.fragments.map((f) => f.definition).filter((ref) => !deps.catalog.fragment(ref));
    for (const d of await loadFragmentDefinitions(trx, [...new Set(missing)])) deps.catalog.remember(d);
    const customer = before.customer?.id ? await loadCustomer(trx, before.customer.id) : undefined;
    let command = request.enrich ? await request.enrich(trx, before) : request.command;
    // The engine's own preview of a migration writes nothing and keeps the case: decide it for real instead.
    if (command.type === 'fragment.migrate' && command.dryRun) command = { ...command, dryRun: false };
    const template = deps.catalog.template(before.template.key, before.template.version);
    if (!template) throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${before.template.key}@${before.template.version}`);
    const decision: Decision = deps.engine.decide(before, command, {
      now: deps.now(),
      actor: request.actor,
      newId: deps.newId ?? (() => crypto.randomUUID()),
      template,
      definitions: (ref) => deps.catalog.fragment(ref),
      ...(customer ? { customer: customerSnapshot(customer) } : {}),
    });
    if (!decision.ok) refuse(decision.error);
    return { before, customer, decision, template };
  });
  const { before, customer, decision, template } = decided;
  const after = decision.case;
  const definitions = (ref: string) =>
    deps.catalog.fragment(ref) ?? decision.effects.flatMap((e) => (e.type === 'definition.store' && `${e.definition.key}@${e.definition.version}` === ref ? [e.definition] : []))[0];

  const keys = [...new Set(after.fragments.filter((f) => f.status === 'active').map((f) => f.definition.slice(0, f.definition.lastIndexOf('@'))))];
  const before_ = heldUnits(before);
  const after_ = heldUnits(after);
  const people = [...new Set([...before_.keys(), ...after_.keys(), ...(targetOf(request.command) ? [targetOf(request.command)!] : [])])].sort();
  const [durations, loads] = await Promise.all([fragmentDurations(deps.db, keys), peopleLoad(deps.db, people)]);
  const capacity = people.map((userId) => {
    const load = loads.get(userId) ?? { userId, used: 0, limit: null };
    const usedAfter = load.used - (before_.get(userId) ?? 0) + (after_.get(userId) ?? 0);
    return { user_id: userId, used_before: load.used, used_after: usedAfter, limit: load.limit, over_capacity: load.limit !== null && usedAfter > load.limit };
  });
  return {
    before,
    after,
    ...(customer ? { customer } : {}),
    result: { dryRun: true, ...(decision.result ?? {}) },
    plan: planView(after),
    goals_projection: projectGoals(after, template, deps.now(), durations, definitions),
    capacity,
  };
}
