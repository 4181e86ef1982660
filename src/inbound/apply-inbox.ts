/**
 * Applies inbox rows to cases, in receipt order per correlation key.
 *
 * A job names one row; applying it means applying every still-`received` row of the same
 * (source, correlation key) up to it, oldest first. So a later row never overtakes an earlier
 * one — whichever job runs first, in whatever process — and a row whose own job was lost is
 * applied by the next one of its key (or by the reconciler). Each step is a command with an
 * idempotency key (`inbound:<source>`, `<webhook-id>#<step>`) stored in the command's own
 * transaction, so two walkers over the same row, a crash between command and settle, or a
 * re-run all produce the effect once.
 *
 * Outcomes: `applied` (case id and what was done), `unmatched` (no rule, or no active case and
 * no intake rule: kept and listed, retryable), `failed` (the case refused the command or the
 * mapping produced a bad value: the problem is stored, retryable). A transient error (database
 * down) throws: the job retries and the rows behind it wait.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../cases/types.js';
import { hashRequest, type CommandRunner, type IdempotencyRequest } from '../commands/run-command.js';
import { TesseraError } from '../errors.js';
import { findIdempotencyRecord } from '../persistence/case-store.js';
import { findActiveCaseId } from '../persistence/case-lookup.js';
import { findInboxMessage, pendingUpTo, settleInboxMessage, type InboxMessage, type Settlement } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';
import type { InboundSources } from './inbound-sources.js';
import { createKeyedLock } from './keyed-lock.js';
import { MappingError, type Plan } from './mapping.js';

export interface InboxApplierDeps {
  db: Kysely<Database>;
  runner: CommandRunner;
  sources: InboundSources;
  logger: Logger;
  now?: () => Date;
}

type Step = 'open' | 'event' | 'attach';

const respond = ({ case: c }: { case: { id: string; version: number } }) => ({ statusCode: 200, body: { case_id: c.id, version: c.version } });

export function createInboxApplier(deps: InboxApplierDeps) {
  const now = deps.now ?? (() => new Date());
  const withLock = createKeyedLock();

  const owner = (m: InboxMessage) => `inbound:${m.source}`;
  function idempotency(m: InboxMessage, step: Step): IdempotencyRequest {
    return { owner: owner(m), key: `${m.webhookId}#${step}`, requestHash: hashRequest({ inbox: m.id, step }) };
  }

  async function run(m: InboxMessage, step: Step, request: Omit<Parameters<CommandRunner['run']>[0], 'actor' | 'idempotency' | 'respond'>) {
    const actor: Actor = { id: owner(m), role: 'system' };
    const response = await deps.runner.run({ ...request, actor, idempotency: idempotency(m, step), respond });
    return response.body as { case_id: string; version: number };
  }

  /** What one row does; throws TesseraError (4xx) or MappingError for a refusal. */
  async function applyPlan(m: InboxMessage, plan: Plan): Promise<Settlement> {
    const done: string[] = [];
    // A case this very message opened earlier (a re-run after a crash) is "its new case", even
    // though the lookup would now find it: the re-run must take the same branch as the first run.
    let caseId: string | undefined;
    let opened = false;
    if (plan.openCase) {
      const earlier = await findIdempotencyRecord(deps.db, owner(m), `${m.webhookId}#open`);
      if (earlier) {
        caseId = (earlier.response as { case_id: string }).case_id;
        opened = true;
      }
    }
    caseId ??= await findActiveCaseId(deps.db, plan.correlation);

    if (!caseId) {
      if (!plan.openCase) {
        return { status: 'unmatched', error: { code: 'NO_MATCHING_CASE', message: `No open case has ${plan.correlation.key}; retry once it exists, or add an open_case rule` } };
      }
      caseId = (await run(m, 'open', { template: { key: plan.openCase.template }, command: { type: 'case.open', input: plan.openCase.input } })).case_id;
      opened = true;
    }
    if (opened) done.push('case.open');
    // A new case is the event's effect; only its content goes with it.
    if (plan.event && !opened) {
      await run(m, 'event', { caseId, command: { type: 'event.send', event: plan.event } });
      done.push('event.send');
    }
    if (plan.attach) {
      await run(m, 'attach', { caseId, command: { type: 'content.add', kind: plan.attach.kind, data: plan.attach.data } });
      done.push('content.add');
    }
    return { status: 'applied', caseId, result: { case_id: caseId, rule: plan.rule, correlation_key: plan.correlation.key, actions: done } };
  }

  async function applyOne(m: InboxMessage): Promise<void> {
    let settlement: Settlement;
    const source = await deps.sources.get(m.source);
    if (!source) {
      settlement = { status: 'failed', error: { code: 'SOURCE_NOT_FOUND', message: `Source ${m.source} was deleted` } };
    } else {
      try {
        const plan = await source.mapping.plan(m.payload, { id: m.webhookId, source: m.source, timestamp: m.sentAt.toISOString() });
        settlement = plan
          ? await applyPlan(m, plan)
          : { status: 'unmatched', error: { code: 'NO_MATCHING_RULE', message: 'No rule of the source mapping applies to this payload' } };
      } catch (err) {
        if (err instanceof MappingError) {
          // Deterministic for this payload and mapping (a bound included): failed, not retried by the job.
          settlement = { status: 'failed', error: { code: err.limit ? 'MAPPING_LIMIT' : 'INVALID_MAPPING', message: err.message, pointer: err.pointer } };
        } else if (err instanceof TesseraError && err.status < 500) {
          settlement = { status: 'failed', error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
        } else {
          throw err;
        }
      }
    }
    await settleInboxMessage(deps.db, m.id, settlement, now());
  }

  return {
    /** Applies the row and every earlier pending row of its key. A row no longer `received` is a no-op. */
    async apply(inboxId: string): Promise<void> {
      const row = await findInboxMessage(deps.db, inboxId);
      if (!row || row.status !== 'received' || row.correlationKey === null) return;
      const key = row.correlationKey;
      await withLock(`${row.source}\u0000${key}`, async () => {
        for (const m of await pendingUpTo(deps.db, row.source, key, row.seq)) await applyOne(m);
      });
    },
  };
}

export type InboxApplier = ReturnType<typeof createInboxApplier>;
