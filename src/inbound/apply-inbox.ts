/**
 * Applies inbox rows to cases, in receipt order per correlation key.
 *
 * A job names one row; applying it means applying every still-`received` row of the same
 * (source, correlation key) up to it, oldest first (its *walk*). So a later row never overtakes an
 * earlier one — whichever job runs first, in whatever process — and a row whose own job was lost
 * is applied by the next one of its key (or by the reconciler). The worker applies its jobs in
 * batches (`applyBatch`, jobs/apply-inbox-job.ts): the walks of many keys are read in one
 * statement and applied side by side in rounds, one row per key per round, so a round's case
 * lookup is one statement, its commands meet in the runner's group commit (one lock and load,
 * one write for many cases) and its rows are settled by one statement. Each step is a command with an
 * idempotency key (`inbound:<source>`, `<webhook-id>#<step>`) stored in the command's own
 * transaction, so two walkers over the same row, a crash between command and settle, or a
 * re-run all produce the effect once.
 *
 * Two kinds of row (mapping.ts): a *case* row addresses an existing case (event and/or content);
 * an *intake* row is a normalised intake event that the templates' intake rules decide on
 * (intake-rules.ts): the customer is resolved (or created) from the identity, the signals
 * pipeline scores the content (sentiment), the first matching rule opens a case of its template
 * (routed to its queue, with its priority), threads the event into the case its `threadBy` keys
 * find, or records it on the customer. An event no rule takes is recorded on the customer too:
 * intake never drops an event. Every step's idempotency key commits with its effect.
 *
 * Outcomes: `applied` (case id, or none for an event recorded on the customer, and what was
 * done), `unmatched` (no mapping rule, or a case row whose case does not exist: kept and listed,
 * retryable), `failed` (the case refused the command, a rule condition spent its budget, or the
 * mapping produced a bad value: the problem is stored, retryable). A transient error (database
 * down) throws: the job retries and the rows behind it wait.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../cases/types.js';
import { hashRequest, type CommandRunner, type IdempotencyRequest } from '../commands/run-command.js';
import { TesseraError } from '../errors.js';
import { findIdempotencyRecord } from '../persistence/case-store.js';
import { findActiveCaseIds, findThreadCase, type ThreadLookup } from '../persistence/case-lookup.js';
import { findInboxMessage, pendingUpTo, pendingWalks, settleInboxMessages, type InboxMessage, type Settlement } from '../persistence/inbox-store.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from '../commands/catalog.js';
import type { ContentKind, Priority } from '../cases/types.js';
import { PRIORITIES } from '../cases/types.js';
import type { InboundSources } from './inbound-sources.js';
import { CONTENT_KIND_OF, IDENTITY_REF, identityKey, type IntakeEvent } from './intake-event.js';
import { noCustomers, providedSignals, type IntakeCustomer, type IntakeCustomers, type IntakeSignals } from './intake-ports.js';
import { decideIntake, intakeRulesOf, intakeScope, type IntakeDecision, type ThreadKey } from './intake-rules.js';
import { createKeyedLock } from './keyed-lock.js';
import { MappingError, type Plan } from './mapping.js';

export interface InboxApplierDeps {
  db: Kysely<Database>;
  runner: CommandRunner;
  sources: InboundSources;
  /** Where the intake rules come from (the latest version of each template). */
  catalog: Catalog;
  /** Loads versions other processes published (catalog-sync.ts); called before each intake decision. */
  syncCatalog?: () => Promise<unknown>;
  logger: Logger;
  /** The customer aggregate (resolve-or-create, record). Default: none wired. */
  customers?: IntakeCustomers;
  /** Sentiment and content checks. Default: the sender's provided sentiment. */
  signals?: IntakeSignals;
  now?: () => Date;
}

type Step = 'open' | 'event' | 'attach' | 'customer' | 'record';


const rank = (p: Priority) => PRIORITIES.indexOf(p);

const respond = ({ case: c }: { case: { id: string; version: number } }) => ({ statusCode: 200, body: { case_id: c.id, version: c.version } });

export function createInboxApplier(deps: InboxApplierDeps) {
  const now = deps.now ?? (() => new Date());
  const withLock = createKeyedLock();
  const customers = deps.customers ?? noCustomers;
  const signals = deps.signals ?? providedSignals;
  // Compiled once per catalog list: a version published at runtime brings its rules (intake-rules.ts).
  const intakeRules = () => intakeRulesOf(deps.catalog.templates());

  const owner = (m: InboxMessage) => `inbound:${m.source}`;
  function idempotency(m: InboxMessage, step: Step): IdempotencyRequest {
    return { owner: owner(m), key: `${m.webhookId}#${step}`, requestHash: hashRequest({ inbox: m.id, step }) };
  }

  async function run(m: InboxMessage, step: Step, request: Omit<Parameters<CommandRunner['run']>[0], 'actor' | 'idempotency' | 'respond'>) {
    const actor: Actor = { id: owner(m), role: 'system' };
    const response = await deps.runner.run({ ...request, actor, idempotency: idempotency(m, step), respond });
    return response.body as { case_id: string; version: number };
  }

  /**
   * A case row: the newest active case its correlation key finds (looked up for the whole round,
   * `caseId`; undefined: none) gets the event and/or the content.
   */
  async function applyToCase(m: InboxMessage, plan: Plan, caseId: string | undefined): Promise<Settlement> {
    const done: string[] = [];
    if (!caseId) {
      return {
        status: 'unmatched',
        error: { code: 'NO_MATCHING_CASE', message: `No open case has ${plan.correlation.key}; retry once it exists, or make the rule an intake rule so a template intake rule can open one` },
      };
    }
    if (plan.event) {
      await run(m, 'event', { caseId, command: { type: 'event.send', event: plan.event } });
      done.push('event.send');
    }
    if (plan.attach) {
      await run(m, 'attach', { caseId, command: { type: 'content.add', kind: plan.attach.kind, data: plan.attach.data } });
      done.push('content.add');
    }
    return { status: 'applied', caseId, result: { case_id: caseId, rule: plan.rule, correlation_key: plan.correlation.key, actions: done } };
  }

  /** Resolves a threading key against this event; undefined when the event has no value for it. */
  function lookupOf(key: ThreadKey, event: IntakeEvent, customer: IntakeCustomer): ThreadLookup | undefined {
    if (key.by === 'ref') {
      const value = event.externalRefs[key.ref];
      return value ? { kind: 'ref', ref: key.ref, value } : undefined;
    }
    if (key.by === 'identity') {
      const value = identityKey(event.customer);
      return value ? { kind: 'ref', ref: IDENTITY_REF, value } : undefined;
    }
    const id = customer.id ?? event.customer.externalId;
    return id ? { kind: 'customer', customerId: id } : undefined;
  }

  /** The case the decision threads into, by the first key (in precedence order) that finds one. */
  async function threadCase(decision: IntakeDecision, event: IntakeEvent, customer: IntakeCustomer): Promise<{ caseId: string; key: string } | undefined> {
    for (const key of decision.threadBy) {
      const lookup = lookupOf(key, event, customer);
      if (!lookup) continue;
      const caseId = await findThreadCase(deps.db, lookup, decision.action === 'open' ? decision.template : undefined);
      if (caseId) return { caseId, key: key.by === 'ref' ? `ref:${key.ref}` : key.by };
    }
    return undefined;
  }

  /** An intake row: customer, signals, the first matching template intake rule, then open / thread / record. */
  async function applyIntake(m: InboxMessage, plan: Plan, event: IntakeEvent): Promise<Settlement> {
    // Content checked first: an invalid event fails with nothing written, not even a new customer.
    const analysis = await signals.analyse(event);
    const customer = await customers.resolve(event, idempotency(m, 'customer'));
    const scope = intakeScope({ ...event, data: analysis.data }, { sentiment: analysis.sentiment }, customer.summary);
    // Another process may have published a version with new rules: read the catalog revision first.
    await deps.syncCatalog?.();
    const decision = decideIntake(intakeRules(), event, scope);
    const base = {
      rule: plan.rule,
      correlation_key: plan.correlation.key,
      customer_id: customer.id ?? null,
      ...(analysis.sentiment ? { sentiment: analysis.sentiment } : {}),
      intake_rule: decision ? `${decision.rule.template}@${decision.rule.version}#/intake/${decision.rule.index}` : null,
    };
    const record = async (why: string): Promise<Settlement> => {
      const { recorded } = await customers.record(customer, { ...event, data: analysis.data }, idempotency(m, 'record'), m.sentAt);
      return { status: 'applied', caseId: null, result: { ...base, action: 'record', outcome: 'recorded', recorded_on_customer: recorded, reason: why } };
    };
    if (!decision) return record('no intake rule matched');
    if (decision.action === 'record') return record('the intake rule records');

    const content = { type: 'content.add' as const, kind: CONTENT_KIND_OF[event.kind] as ContentKind, data: analysis.data };
    // The signals' priority may raise the rule's, never lower it: the rule is the team's floor.
    const priority = analysis.priority && rank(analysis.priority) > rank(decision.priority) ? analysis.priority : decision.priority;
    const opened = (caseId: string): Settlement => ({
      status: 'applied',
      caseId,
      result: { ...base, action: 'open', outcome: 'opened', case_id: caseId, queue: decision.queue ?? null, priority, priority_source: decision.prioritySource, actions: ['case.open', 'content.add'] },
    });
    // A case this very message opened earlier (a re-run after a crash) is "its new case", even
    // though threading would now find it: the re-run must take the same branch as the first run.
    const earlier = await findIdempotencyRecord(deps.db, owner(m), `${m.webhookId}#open`);
    if (earlier) {
      const caseId = (earlier.response as { case_id: string }).case_id;
      await run(m, 'attach', { caseId, command: content });
      return opened(caseId);
    }
    const thread = await threadCase(decision, event, customer);
    if (thread) {
      await run(m, 'attach', { caseId: thread.caseId, command: content });
      return { status: 'applied', caseId: thread.caseId, result: { ...base, action: decision.action, outcome: 'threaded', thread_key: thread.key, case_id: thread.caseId, actions: ['content.add'] } };
    }
    if (decision.action === 'attach') return record('no active case to attach to');

    const identity = identityKey(event.customer);
    const caseId = (
      await run(m, 'open', {
        template: { key: decision.template },
        command: {
          type: 'case.open',
          input: {
            title: decision.title,
            priority,
            ...(decision.queue ? { queue: decision.queue } : {}),
            customer: {
              ...(customer.id ?? event.customer.externalId ? { id: (customer.id ?? event.customer.externalId)! } : {}),
              ...(event.customer.name ? { name: event.customer.name } : {}),
              ...(event.customer.handle ? { handle: event.customer.handle } : {}),
              ...(event.customer.email ? { email: event.customer.email } : {}),
            },
            // The keys later events thread by: the event's own references and the identity.
            externalRefs: { ...event.externalRefs, ...(identity ? { [IDENTITY_REF]: identity } : {}) },
          },
        },
      })
    ).case_id;
    await run(m, 'attach', { caseId, command: content });
    return opened(caseId);
  }

  /** A refusal that settles the row as failed (deterministic for this payload, mapping and case); undefined: transient. */
  function refusal(err: unknown): Settlement | undefined {
    // Deterministic for this payload and mapping (a bound included): failed, not retried by the job.
    if (err instanceof MappingError) return { status: 'failed', error: { code: err.limit ? 'MAPPING_LIMIT' : 'INVALID_MAPPING', message: err.message, pointer: err.pointer } };
    if (err instanceof TesseraError && err.status < 500) return { status: 'failed', error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
    return undefined;
  }

  /** What the mapping makes of a row: its plan, or the settlement it ends with (no rule, a failing mapping). Pure but for the sandbox. */
  async function planOf(m: InboxMessage): Promise<{ plan: Plan } | { settlement: Settlement }> {
    const source = await deps.sources.get(m.source);
    if (!source) return { settlement: { status: 'failed', error: { code: 'SOURCE_NOT_FOUND', message: `Source ${m.source} was deleted` } } };
    try {
      const plan = await source.mapping.plan(m.payload, { id: m.webhookId, source: m.source, timestamp: m.sentAt.toISOString() });
      return plan ? { plan } : { settlement: { status: 'unmatched', error: { code: 'NO_MATCHING_RULE', message: 'No rule of the source mapping applies to this payload' } } };
    } catch (err) {
      const failed = refusal(err);
      if (failed) return { settlement: failed };
      throw err;
    }
  }

  /**
   * Applies walks (the pending rows of one key each, in receipt order) in rounds: a round takes
   * the next row of every walk, so a key's rows go one after the other and the rows of many keys
   * share each round's work — one lookup of their cases, their commands submitted together (the
   * runner's group commit writes them in shared transactions: one lock and load, one write), one
   * statement settling them all. A row refused (case, mapping, rule) settles `failed` alone; a
   * transient error settles the round's other rows and throws, so the job retries and the rest of
   * every walk waits (a key's later row never overtakes a row not settled).
   */
  async function applyWalks(walks: InboxMessage[][]): Promise<void> {
    // Planned up front and in parallel: the mapping reads only the payload.
    const planned = new Map(await Promise.all(walks.flat().map(async (m) => [m.id, await planOf(m)] as const)));
    let lanes = walks.filter((w) => w.length > 0).map((rows) => ({ rows, next: 0 }));
    while (lanes.length > 0) {
      const heads = lanes.map((lane) => lane.rows[lane.next++]!);
      const caseRows = heads.flatMap((m) => {
        const p = planned.get(m.id)!;
        return 'plan' in p && !p.plan.intake ? [{ id: m.id, correlation: p.plan.correlation }] : [];
      });
      const found = await findActiveCaseIds(deps.db, caseRows.map((r) => r.correlation));
      const caseOf = new Map(caseRows.map((r, i) => [r.id, found.get(i)]));
      const outcomes = await Promise.allSettled(
        heads.map(async (m) => {
          const p = planned.get(m.id)!;
          if ('settlement' in p) return { id: m.id, settlement: p.settlement };
          try {
            return { id: m.id, settlement: p.plan.intake ? await applyIntake(m, p.plan, p.plan.intake) : await applyToCase(m, p.plan, caseOf.get(m.id)) };
          } catch (err) {
            const failed = refusal(err);
            if (failed) return { id: m.id, settlement: failed };
            throw err;
          }
        }),
      );
      await settleInboxMessages(deps.db, outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])), now());
      const transient = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (transient) throw transient.reason;
      lanes = lanes.filter((lane) => lane.next < lane.rows.length);
    }
  }

  return {
    /** Applies the row and every earlier pending row of its key. A row no longer `received` is a no-op. */
    async apply(inboxId: string): Promise<void> {
      const row = await findInboxMessage(deps.db, inboxId);
      if (!row || row.status !== 'received' || row.correlationKey === null) return;
      const key = row.correlationKey;
      await withLock(`${row.source}\u0000${key}`, async () => applyWalks([await pendingUpTo(deps.db, row.source, key, row.seq)]));
    },

    /**
     * Applies many rows at once (the worker's batch of inbox jobs): each row with every earlier
     * pending row of its key, the keys side by side (applyWalks). One statement reads every walk.
     * The caller keeps two rows of one key out of one batch at a time in a process (the batcher's
     * lane); across processes the walk and the idempotency keys keep order and once-only.
     */
    async applyBatch(inboxIds: string[]): Promise<void> {
      await applyWalks(await pendingWalks(deps.db, inboxIds));
    },
  };
}

export type InboxApplier = ReturnType<typeof createInboxApplier>;
