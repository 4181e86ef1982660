/**
 * Fires a behaviour-deviation trip wire — a command on the customer, in one transaction:
 *   lock the customer row -> lock the timer row (pending? due by the database's clock?)
 *   -> read the series, the open case of the template, the value percentile
 *   -> decide (pure, behaviour-deviation.ts)
 *   -> open the retention case through the engine (`case.open`) and write it, journal the opening
 *      on the customer and on the case, mark the timer fired with its outcome  (all or nothing)
 *   -> after commit the relay hands the case's timers and outbox rows (and the customer's) over.
 *
 * At most one open case of the template per customer: the check runs under the customer's row
 * lock, and every deviation opening takes that lock first, so two firings (a re-armed duplicate, a
 * stalled job re-run, two workers) are serialised and the second finds the case — or finds its
 * timer already fired. A re-fire is a no-op.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Engine } from '../cases/engine.js';
import type { Actor, CaseState, Effect, JournalEntry } from '../cases/types.js';
import { DAY_MS, decideDeviationFire, type FireDecision } from '../customers/behaviour-deviation.js';
import type { CustomerState } from '../customers/types.js';
import { customerSnapshot } from '../customers/snapshot.js';
import { saveDecision } from '../persistence/case-store.js';
import { loadCustomerForUpdate, saveCustomer, valuePercentiles } from '../persistence/customer-store.js';
import { lockCustomerTimer, settleCustomerTimer, type CustomerTimerRow } from '../persistence/customer-timer-store.js';
import type { DbClock } from '../persistence/db-clock.js';
import { findOpenCaseOfTemplate, loadActivitySeries } from '../persistence/deviation-store.js';
import type { Database } from '../persistence/schema.js';
import { deviationRuleOf } from '../templates/deviation-schema.js';
import type { Catalog } from './catalog.js';
import type { CommittedEffects } from './run-command.js';

/** Who opens a proactive case, in both journals. */
export const DEVIATION_ACTOR: Actor = { id: 'deviation', role: 'system' };

export type DeviationFireOutcome =
  | { outcome: 'opened'; caseId: string }
  /** Fired without opening: why (the timer row keeps it as `outcome`). */
  | { outcome: 'skipped'; reason: Exclude<FireDecision, { open: true }>['reason'] | 'customer_merged' | 'template_missing' }
  /** The row is no longer pending (cancelled by a re-arm, or fired already): nothing written. */
  | { outcome: 'stale' }
  | { outcome: 'early'; dueInMs: number }
  | { outcome: 'customer_missing' };

export interface DeviationFireDeps {
  db: Kysely<Database>;
  engine: Engine;
  catalog: Catalog;
  clock: DbClock;
  /** After commit: the opened case's timers and outbox rows (the relay's `handOver`). */
  afterCommit: (committed: CommittedEffects[]) => void;
  /** After commit: the customer's outbox rows (the relay's `handOverOutbox`). */
  handOverOutbox: (outboxIds: string[]) => void;
  /** A fixed clock for tests that move time. */
  now?: () => Date;
  newId?: () => string;
}

export function createDeviationFirer(deps: DeviationFireDeps) {
  const newId = deps.newId ?? randomUUID;

  return async function fireDeviationTimer(timer: { timerId: string; customerId: string }): Promise<DeviationFireOutcome> {
    let committed: CommittedEffects | undefined;
    let customerOutbox: string[] = [];
    const result = await deps.db.transaction().execute(async (trx): Promise<DeviationFireOutcome> => {
      const sentAt = deps.clock.local();
      const locked = await loadCustomerForUpdate(trx, timer.customerId);
      const row = await lockCustomerTimer(trx, timer.timerId);
      if (!row || row.status !== 'pending') return { outcome: 'stale' };
      if (!locked) {
        await settleCustomerTimer(trx, row.id, 'customer_missing');
        return { outcome: 'customer_missing' };
      }
      deps.clock.observe(locked.dbNow, sentAt, deps.clock.local());
      const at = deps.now?.() ?? locked.dbNow;
      const dueInMs = row.dueAt.getTime() - at.getTime();
      if (dueInMs > 0) return { outcome: 'early', dueInMs };
      const customer = locked.state;
      const skip = async (reason: Extract<DeviationFireOutcome, { outcome: 'skipped' }>['reason']): Promise<DeviationFireOutcome> => {
        await settleCustomerTimer(trx, row.id, reason);
        return { outcome: 'skipped', reason };
      };
      if (customer.status !== 'active') return skip('customer_merged');
      const template = deps.catalog.template(row.templateKey);
      if (!template?.deviation) return skip('template_missing');
      const rule = deviationRuleOf(template.deviation);

      const series = await loadActivitySeries(trx, customer.id, rule.kinds);
      const openCaseId = await findOpenCaseOfTemplate(trx, customer.id, template.key);
      const value = customer.metrics.lifetimeValue?.value;
      const percentiles = value === undefined ? null : await valuePercentiles(trx, customer.id);
      const decision = decideDeviationFire(
        { lastAt: Date.parse(row.basis.lastAt), events: row.basis.events },
        { series, value, valuePercentile: percentiles?.clv, openCaseId, now: at.getTime(), dueAt: row.dueAt.getTime() },
        rule,
      );
      if (!decision.open) return skip(decision.reason);

      // The case: opened by the engine like any other, its file saying why.
      const overdueDays = round((at.getTime() - Date.parse(row.basis.lastAt)) / DAY_MS, 1);
      const meanGapDays = round(row.basis.meanGapMs / DAY_MS, 2);
      const trigger = {
        kinds: rule.kinds,
        events: series.count,
        lastActivityAt: row.basis.lastAt,
        meanGapDays,
        k: row.basis.k,
        expectedBy: row.dueAt.toISOString(),
        overdueDays,
        basis: row.basis.basis,
        lifetimeValue: value!,
        ...(percentiles ? { valuePercentile: round(percentiles.clv, 4) } : {}),
      };
      const name = customer.profile.name;
      const opened = deps.engine.decide(
        undefined,
        {
          type: 'case.open',
          input: {
            title: `${name ?? `Customer ${customer.id}`}: no ${rule.kinds.join('/')} for ${Math.floor(overdueDays)} days (usually every ${Math.round(meanGapDays)})`,
            priority: decision.priority,
            customer: { id: customer.id, ...(name !== undefined ? { name } : {}) },
            caseFile: { deviation: trigger },
          },
        },
        // Goal conditions and guards of the new case read the customer (CEL `customer`) as on any open.
        { now: at, actor: DEVIATION_ACTOR, newId, template, definitions: (ref) => deps.catalog.fragment(ref), customer: customerSnapshot(customer, percentiles ?? undefined) },
      );
      // The template's own checks passed at load; a refusal here is a broken template version.
      if (!opened.ok) return skip('template_missing');
      const c: CaseState = opened.case;
      const reason = `behaviour deviation: ${rule.kinds.join('/')} overdue (last ${row.basis.lastAt}, expected by ${row.dueAt.toISOString()})`;
      const caseJournal: JournalEntry[] = [
        ...opened.journal,
        { type: 'case.proactive', actor: DEVIATION_ACTOR, reason, data: { trigger: 'deviation', customerId: customer.id, timerId: row.id, ...trigger }, at: at.toISOString() },
      ];
      const saved = await saveDecision(trx, { previousVersion: undefined, next: c, effects: opened.effects, journal: caseJournal });
      customerOutbox = (await journalOnCustomer(trx, customer, row, c.id, reason, at)).pendingOutbox;
      await settleCustomerTimer(trx, row.id, 'opened', c.id);
      committed = { caseId: c.id, effects: opened.effects as Effect[], pendingOutbox: saved.pendingOutbox };
      return { outcome: 'opened', caseId: c.id };
    });
    if (committed) deps.afterCommit([committed]);
    if (customerOutbox.length > 0) deps.handOverOutbox(customerOutbox);
    return result;
  };
}

/** The opening on the customer's journal: a new customer version with one entry (the aggregate itself is unchanged). */
function journalOnCustomer(trx: Kysely<Database>, customer: CustomerState, row: CustomerTimerRow, caseId: string, reason: string, at: Date) {
  const next: CustomerState = { ...customer, version: customer.version + 1, updatedAt: at.toISOString() };
  return saveCustomer(trx, {
    previousVersion: customer.version,
    next,
    effects: [],
    journal: [
      {
        type: 'customer.proactive_case_opened',
        actor: DEVIATION_ACTOR,
        reason,
        data: { caseId, templateKey: row.templateKey, timerId: row.id, lastActivityAt: row.basis.lastAt, expectedBy: row.dueAt.toISOString() },
        at: at.toISOString(),
      },
    ],
    actor: DEVIATION_ACTOR,
  });
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
