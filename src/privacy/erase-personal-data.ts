/**
 * Erasure runs: a customer on request (POST /v1/customers/:id/erase) or closed cases past their
 * template's retention (privacy/retention.ts). A run is an `erasures` row; each place of the
 * registry (personal-data.ts) is masked in its own transaction that also records the step as
 * done, so a crash resumes at the first step not done (`resume`, run by the workers) and a step
 * run twice changes nothing the second time. The run is journaled — on the customer's journal
 * (`customer.erased`) and in the row itself — with ids, basis, reason and counts: no personal data.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { withJournalErasure } from '../persistence/journal-erasure.js';
import type { Database } from '../persistence/schema.js';
import type { JobQueue } from '../platform/job-queue.js';
import type { Metrics } from '../platform/metrics.js';
import { casesSubject, customerSubject } from './collect-subject.js';
import { PERSONAL_DATA_PLACES, type PersonalDataPlace, type Subject } from './personal-data.js';

/** Lawful bases for erasure (GDPR art. 17(1) and retention). */
export const ERASURE_BASES = ['consent_withdrawn', 'no_longer_necessary', 'objection', 'unlawful_processing', 'legal_obligation', 'retention'] as const;
export type ErasureBasis = (typeof ERASURE_BASES)[number];

export interface ErasureRequest {
  trigger: 'request' | 'retention';
  customerId?: string;
  caseIds?: string[];
  basis: ErasureBasis;
  reason: string;
  requestedBy: { id: string; role: string };
}

export interface ErasureResult {
  id: string;
  trigger: string;
  customerId: string | null;
  caseIds: string[];
  status: string;
  counts: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
}

export interface EraserDeps {
  db: Kysely<Database>;
  jobs: JobQueue;
  logger: Logger;
  metrics?: Metrics;
  /** Drops what this process holds in memory of these cases (the command runner's copies, commands/written-cases.ts). */
  forgetCases?: (caseIds: string[]) => void;
  /** A seam for the crash test: called after each step commits. */
  afterStep?: (erasureId: string, step: string) => void | Promise<void>;
}

export function createEraser(deps: EraserDeps) {
  const { db } = deps;

  async function load(id: string) {
    return db.selectFrom('erasures').selectAll().where('id', '=', id).executeTakeFirst();
  }

  function resultOf(row: NonNullable<Awaited<ReturnType<typeof load>>>): ErasureResult {
    return {
      id: row.id,
      trigger: row.trigger,
      customerId: row.customer_id,
      caseIds: row.case_ids,
      status: row.status,
      counts: row.counts,
      createdAt: new Date(row.created_at).toISOString(),
      finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null,
    };
  }

  /** Records the run. A customer with a run still going gets that run back (one at a time per customer). */
  async function start(request: ErasureRequest): Promise<string> {
    if (request.customerId) {
      const running = await db.selectFrom('erasures').select('id').where('customer_id', '=', request.customerId).where('status', '=', 'running').executeTakeFirst();
      if (running) return running.id;
    }
    const id = `era_${randomUUID()}`;
    await db
      .insertInto('erasures')
      .values({
        id,
        trigger: request.trigger,
        customer_id: request.customerId ?? null,
        case_ids: request.caseIds ?? [],
        basis: request.basis,
        reason: request.reason,
        requested_by: request.requestedBy.id,
      })
      .execute();
    return id;
  }

  async function runStep(erasureId: string, place: PersonalDataPlace, subject: Subject): Promise<void> {
    const step = async (trx: Parameters<Parameters<typeof withJournalErasure>[1]>[0]) => {
      const changed = await place.erase(trx, subject, { jobs: deps.jobs });
      await sql`update erasures set steps_done = array_append(steps_done, ${place.name}), counts = counts || jsonb_build_object(${place.name}::text, ${changed}::int)
                where id = ${erasureId} and not (${place.name} = any(steps_done))`.execute(trx);
    };
    // Only the journal steps may change journal rows (the append-only triggers of 0008, 0010 and 0045
    // — journal_commands shares the journal's trigger): they alone open the door.
    if (place.name === 'journal' || place.name === 'journal_commands' || place.name === 'customer_journal') await withJournalErasure(db, step);
    else await db.transaction().execute(step);
    // A copy kept from before the masking would never be written back (the write checks the row),
    // but it still holds the personal data: drop it here (other processes' copies age out).
    if (place.name === 'cases') deps.forgetCases?.(subject.caseIds);
    await deps.afterStep?.(erasureId, place.name);
  }

  /** Runs (or resumes) an erasure to the end; returns its final row. */
  async function run(erasureId: string): Promise<ErasureResult> {
    const row = await load(erasureId);
    if (!row) throw new Error(`no erasure ${erasureId}`);
    if (row.status === 'done') return resultOf(row);
    const subject = row.customer_id ? await customerSubject(db, row.customer_id) : await casesSubject(db, row.case_ids);
    // A retention run names its cases; a customer run covers every case the customer has now.
    if (row.customer_id && subject.caseIds.length > 0) {
      await db.updateTable('erasures').set({ case_ids: subject.caseIds }).where('id', '=', erasureId).execute();
    }
    for (const place of PERSONAL_DATA_PLACES) {
      if (row.steps_done.includes(place.name)) continue;
      if (place.customerOnly && !row.customer_id) continue;
      await runStep(erasureId, place, subject);
    }
    await db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable('erasures')
        .set({ status: 'done', finished_at: sql`now()` })
        .where('id', '=', erasureId)
        .where('status', '=', 'running')
        .returning(['counts'])
        .executeTakeFirst();
      if (!done || !row.customer_id) return;
      // The customer's own journal says it happened, without saying anything about them.
      const bumped = await sql<{ version: number }>`
        update customers set version = version + 1, state = jsonb_set(state, '{version}', to_jsonb(version + 1)), updated_at = now()
        where id = ${row.customer_id} returning version`.execute(trx);
      const version = bumped.rows[0]?.version;
      if (version === undefined) return;
      await trx
        .insertInto('customer_journal')
        .values({
          customer_id: row.customer_id,
          version,
          idx: 0,
          type: 'customer.erased',
          actor_id: row.requested_by,
          actor_role: row.trigger === 'retention' ? 'system' : 'admin',
          reason: row.reason,
          data: JSON.stringify({ erasureId, basis: row.basis, cases: subject.caseIds.length, counts: done.counts }),
          at: sql<Date>`now()`,
        })
        .execute();
    });
    const finished = (await load(erasureId))!;
    deps.metrics?.erasures.inc({ trigger: finished.trigger });
    deps.logger.info({ erasureId, trigger: finished.trigger, cases: subject.caseIds.length }, 'personal data erased');
    return resultOf(finished);
  }

  return {
    start,
    run,
    /** Start and run to the end. */
    async erase(request: ErasureRequest): Promise<ErasureResult> {
      return run(await start(request));
    },
    /** Finishes every run a crash left `running` (the workers call it at start and periodically). */
    async resume(): Promise<number> {
      const running = await db.selectFrom('erasures').select('id').where('status', '=', 'running').orderBy('created_at').limit(100).execute();
      for (const r of running) await run(r.id);
      return running.length;
    },
    async find(id: string): Promise<ErasureResult | undefined> {
      const row = await load(id);
      return row ? resultOf(row) : undefined;
    },
  };
}

export type Eraser = ReturnType<typeof createEraser>;
