/**
 * The command transaction — the only way a case changes:
 *   lock the case row and load the aggregate -> engine.decide (pure) -> write the case, journal,
 *   tasks, timers, outbox, content and idempotency key in one statement -> commit
 *   -> hand the new timers and outbox rows to the relay.
 * All or nothing: a refused command or a crash before commit leaves no trace.
 *
 * Due timers take the same path in batches (`fireTimers`): one transaction locks the cases of
 * many timers at once, decides each, and writes them all in one statement — at thousands of
 * timers a second, the per-transaction cost is what would make them late.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Engine } from '../cases/engine.js';
import type { Actor, CaseState, Command, CustomerValue, Decision, Effect } from '../cases/types.js';
import type { CaseTemplate } from '../templates/types.js';
import { ERROR_CODES, TesseraError, type ErrorCode } from '../errors.js';
import {
  findIdempotencyRecords,
  loadCaseForUpdate,
  loadCasesForUpdate,
  readDbTime,
  saveDecisions,
  type SaveInput,
  type StoredIdempotency,
} from '../persistence/case-store.js';
import { createDbClock, type DbClock } from '../persistence/db-clock.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import { isDatabaseUnavailable, isUniqueViolation } from '../persistence/driver-errors.js';
// The generic batcher (it also groups timer firings); it imports nothing of jobs/ itself.
import { createBatcher } from '../jobs/batcher.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';
import { customerSnapshot } from '../customers/snapshot.js';
import type { CustomerState } from '../customers/types.js';
import { resolveCaseCustomer } from './resolve-case-customer.js';
import { createWrittenCases, type ReadFrom, type WrittenCase } from './written-cases.js';
import type { CommandObserver } from './command-observer.js';

export interface CommittedEffects {
  caseId: string;
  effects: Effect[];
  /** Its outbox rows that some subscription wants (the others were stored fanned out already). */
  pendingOutbox: string[];
}

export interface CommandRunnerDeps {
  db: Kysely<Database>;
  engine: Engine;
  catalog: Catalog;
  /**
   * Called after commit with what the relay must hand to the queue: one entry per case the
   * transaction wrote (a batch of timer firings writes many). Must not throw.
   */
  afterCommit?: (committed: CommittedEffects[]) => void;
  /**
   * Learns the offset of this machine's clock from the database times the commands read
   * (shared with the relay, which arms delays by it). Default: a clock of its own.
   */
  clock?: DbClock;
  /**
   * A fixed clock for tests that move time: when given, commands decide at `now()` instead of
   * the database's time (and `case.open` skips reading it). Production leaves it unset.
   */
  now?: () => Date;
  newId?: () => string;
  /**
   * The customer's value percentiles (CLV, CRV over the customer base), read inside the command's
   * transaction for the commands that score the priority (open, content, priority.*). Absent:
   * every customer is unknown (the score counts the median). The customers store provides it.
   */
  customerValue?: CustomerValueLookup;
  /** Lock waits and fired timers, for metrics. */
  observe?: CommandObserver;
  /**
   * Brings the catalog up to the versions published by any process (commands/catalog-sync.ts):
   * called before a case opens on the latest version of its template, and when a case names a
   * template version this process does not hold yet.
   */
  syncCatalog?: (db: Kysely<Database>) => Promise<unknown>;
  /**
   * Group commit: `run` gathers concurrent commands for different cases into one transaction and
   * one write statement (see runGroup). Absent: every command has a transaction of its own.
   * A group starts as soon as one of `maxInFlight` transactions is free and takes whatever
   * waits (up to `maxBatch`, one command per case): no linger, so a lone command waits for nothing.
   * Two in flight by default: one group's statements overlap the other's Node work and commit
   * flush, and the groups stay large enough to share their costs (bench/engine.ts at concurrency
   * 8 on 2 cores: 962 events/s with two, 874 with four, in alternating runs; more transactions
   * meant smaller groups and more Postgres CPU per event).
   */
  groupCommit?: { maxBatch?: number; maxInFlight?: number; writtenCases?: number };
}

/** One command's outcome in a group: its answer, or its own refusal (or the group's lost connection). */
type GroupResult = { ok: true; response: CommandResponse } | { ok: false; error: unknown };

function settle(promise: Promise<CommandResponse>): Promise<GroupResult> {
  return promise.then(
    (response) => ({ ok: true as const, response }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Looks up a customer's value percentiles; `null` when the customer is unknown. */
export type CustomerValueLookup = (db: Kysely<Database>, customerId: string) => Promise<CustomerValue | null>;

/** Commands whose decision scores the priority and so reads the customer's value. */
const SCORING_COMMANDS: ReadonlySet<Command['type']> = new Set(['case.open', 'content.add', 'priority.recompute', 'priority.override', 'priority.release']);

export interface IdempotencyRequest {
  /** Keys are scoped per caller. */
  owner: string;
  key: string;
  /** Hash of what the request asked for; the same key with another request is refused. */
  requestHash: string;
}

export interface CommandSuccess {
  case: CaseState;
  /** The case's customer as the decision saw it (CEL `customer`), if it has one. */
  customer?: CustomerState;
  decision: Extract<Decision, { ok: true }>;
}

export interface CommandRequest {
  /** Required except for `case.open`. */
  caseId?: string;
  /** For `case.open`: which template (latest version when omitted). */
  template?: { key: string; version?: number };
  command: Command;
  actor: Actor;
  /** `If-Match`: refuse with 412 unless the case is at this version. */
  expectedVersion?: number;
  idempotency?: IdempotencyRequest;
  /** Object-level authorization on the locked case; throws a TesseraError to refuse. */
  authorize?: (state: CaseState) => void;
  /**
   * Completes the command from the locked case and the database, in the transaction (after
   * `authorize`): e.g. the journal a handoff brief is built from. Default: `command` as given.
   */
  enrich?: (trx: Transaction<Database>, state: CaseState) => Promise<Command>;
  /** The answer (stored with the idempotency key, replayed for repeats). */
  respond: (success: CommandSuccess) => { statusCode: number; body: unknown };
}

export interface CommandResponse {
  statusCode: number;
  body: unknown;
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

/** A due timer to fire: its row id and its case. */
export interface DueTimer {
  timerId: string;
  caseId: string;
  /**
   * The row's `due_at` (ISO). Given, the timer is fired only once the database's clock has
   * reached it (else the outcome is `early`); absent, it is fired whatever the time (a caller
   * that means "fire it now").
   */
  dueAt?: string;
}

/**
 * What became of one timer of a batch: applied, stale (settled, nothing changed), spent (applied
 * as a timer that changed nothing but the journal, `timer.failed`), refused, or not due yet by
 * the database's clock (`early`: nothing written; fire it again in `dueInMs`).
 */
export type TimerOutcome =
  | { timerId: string; outcome: 'applied' | 'stale' | 'case_missing' }
  | { timerId: string; outcome: 'early'; dueInMs: number }
  /** Why the timer was spent without effect, as an error code. */
  | { timerId: string; outcome: 'spent'; code: string }
  | { timerId: string; outcome: 'failed'; error: Error };

const TIMER_ACTOR: Actor = { id: 'timer', role: 'system' };

/**
 * The time a group with copies decides at: the database's time (read by the lock of the cases not
 * held, else the clock's estimate of it), never before a held case's last change, so a case's
 * journal stays in order.
 */
function notBefore(estimate: Date, copies: Iterable<WrittenCase>): Date {
  let at = estimate.getTime();
  for (const copy of copies) at = Math.max(at, Date.parse(copy.state.updatedAt));
  return new Date(at);
}

export function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** The engine's refusal as an API error; its detail fields are named snake_case, like every field on the wire. */
function refuse(error: { code: string; message: string; details?: Record<string, unknown> }): never {
  const code = (error.code in ERROR_CODES ? error.code : 'VALIDATION_FAILED') as ErrorCode;
  const details = error.details
    ? Object.fromEntries(Object.entries(error.details).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]))
    : undefined;
  throw new TesseraError(code, error.message, details);
}

export function createCommandRunner(deps: CommandRunnerDeps) {
  const clock = deps.clock ?? createDbClock();
  const fixedNow = deps.now;
  const newId = deps.newId ?? randomUUID;

  // Concurrent commands look their keys up together (an inbox batch: one statement, not one per
  // row); a lone command waits for nothing (batcher.ts).
  const idempotencyLookups = createBatcher<IdempotencyRequest, StoredIdempotency | undefined>({
    run: (requests) => findIdempotencyRecords(deps.db, requests),
    maxBatch: 200,
    maxInFlight: 2,
  });

  async function replay(idem: IdempotencyRequest): Promise<CommandResponse | undefined> {
    const stored = await idempotencyLookups.submit(idem);
    if (!stored) return undefined;
    if (stored.request_hash !== idem.requestHash) {
      throw new TesseraError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request; use a new key for a new request',
      );
    }
    return { statusCode: stored.status_code, body: stored.response, replayed: true };
  }

  /** Inline fragments of this case that the process has not seen yet. */
  async function ensureDefinitions(state: CaseState, trx: Kysely<Database>) {
    // A case opened by another process on a version published after this one loaded its catalog.
    if (!deps.catalog.template(state.template.key, state.template.version)) await deps.syncCatalog?.(trx);
    const missing = state.fragments.map((f) => f.definition).filter((ref) => !deps.catalog.fragment(ref));
    if (missing.length === 0) return;
    for (const definition of await loadFragmentDefinitions(trx, [...new Set(missing)])) deps.catalog.remember(definition);
  }

  function templateOf(ref: { key: string; version?: number } | undefined): CaseTemplate {
    const template = ref ? deps.catalog.template(ref.key, ref.version) : undefined;
    if (!template) {
      const name = ref ? `${ref.key}${ref.version ? `@${ref.version}` : ''}` : '(none)';
      throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${name}; GET /v1/templates lists them`);
    }
    return template;
  }

  function decide(
    state: CaseState | undefined,
    command: Command,
    actor: Actor,
    template: CaseTemplate,
    at: Date,
    customer?: CustomerState,
    customerValue?: CustomerValue | null,
  ): Decision {
    return deps.engine.decide(state, command, {
      now: at,
      actor,
      newId,
      template,
      definitions: (ref) => deps.catalog.fragment(ref),
      ...(customer ? { customer: customerSnapshot(customer) } : {}),
      ...(customerValue !== undefined ? { customerValue } : {}),
    });
  }

  /** The customer value a scoring command decides with (undefined: not looked up, the case keeps its last). */
  async function customerValueFor(trx: Kysely<Database>, state: CaseState | undefined, command: Command): Promise<CustomerValue | null | undefined> {
    if (!deps.customerValue || !SCORING_COMMANDS.has(command.type)) return undefined;
    const customerId = command.type === 'case.open' ? command.input.customer?.id : state?.customer?.id;
    if (customerId === undefined) return null;
    return deps.customerValue(trx, customerId);
  }

  /** Object-level authorization and `If-Match` on the locked case: throws a TesseraError to refuse. */
  function checkLocked(state: CaseState, request: CommandRequest): void {
    request.authorize?.(state);
    if (request.expectedVersion !== undefined && request.expectedVersion !== state.version) {
      throw new TesseraError(
        'VERSION_MISMATCH',
        `The case is at version ${state.version}, not ${request.expectedVersion}; reload it and try again`,
        { current_version: state.version },
      );
    }
  }

  /** A command decided but not written yet: its answer and the write it needs (none: nothing changed, a dry run). */
  interface Prepared {
    response: CommandResponse;
    save?: SaveInput;
    /** Outbox rows of a customer the command created or resolved (`case.open`), already written. */
    customerOutbox: string[];
  }

  /**
   * Decides a command on a locked case (or, for `case.open`, on none) and builds its write,
   * writing nothing itself except the customer a `case.open` resolves or creates. It only reads
   * otherwise (definitions, `enrich`, the customer's value), so a group commit can decide many
   * commands in one transaction and write only the accepted ones. Throws a TesseraError to refuse.
   */
  async function prepare(
    trx: Transaction<Database>,
    state: CaseState | undefined,
    at: Date,
    request: CommandRequest,
    loadedCustomer?: CustomerState,
  ): Promise<Prepared> {
    if (state) await ensureDefinitions(state, trx);
    let customer = loadedCustomer;
    let command = state && request.enrich ? await request.enrich(trx, state) : request.command;
    const customerOutbox: string[] = [];
    const now = fixedNow?.() ?? at;
    if (command.type === 'case.open') {
      const resolved = await resolveCaseCustomer(trx, command.input.customer, request.actor, now);
      if (resolved) {
        customer = resolved.customer;
        customerOutbox.push(...resolved.pendingOutbox);
        command = { ...command, input: { ...command.input, customer: { ...command.input.customer, id: resolved.customer.id } } };
      }
    }
    // Opening on the latest version: a version another process published counts.
    if (!state && (request.template?.version === undefined || !deps.catalog.template(request.template.key, request.template.version))) await deps.syncCatalog?.(trx);
    const template = templateOf(state ? state.template : request.template);
    // After the customer is resolved: a new case reads the value of the customer it is opened for.
    const customerValue = await customerValueFor(trx, state, command);
    const decision = decide(state, command, request.actor, template, now, customer, customerValue);
    if (!decision.ok) refuse(decision.error);

    const answer = request.respond({ case: decision.case, decision, ...(customer ? { customer } : {}) });
    const response = { ...answer, replayed: false };
    // Nothing to write (a dry run).
    if (state && decision.case === state) return { response, customerOutbox };
    return {
      response,
      customerOutbox,
      save: {
        previousVersion: state?.version,
        ...(state ? { previous: state } : {}),
        next: decision.case,
        effects: decision.effects,
        journal: decision.journal,
        ...(request.idempotency
          ? { idempotency: { ...request.idempotency, statusCode: answer.statusCode, response: answer.body } }
          : {}),
      },
    };
  }

  /** The outbox rows of one written decision that the write statement left for fan-out. */
  function pendingOf(save: SaveInput, pending: Set<string>): string[] {
    return save.effects.flatMap((e) => (e.type === 'outbox.emit' && pending.has(e.event.id) ? [e.event.id] : []));
  }

  /**
   * Decides a command on a case the caller locked (or, for `case.open`, on none) at `at`, and
   * writes it, inside the caller's transaction. The caller hands `committed` to `afterCommit`
   * once the transaction commits. `run` uses it; so does next work, which locks the case itself.
   * `customer` is the case's customer as loaded with the case (CEL reads it); a `case.open`
   * resolves or creates its customer here, in the same transaction (commands/resolve-customer.ts).
   * `commits`: the write is the transaction's last statement and COMMIT goes with it (the caller
   * runs nothing after it in the transaction).
   */
  async function decideAndSave(
    trx: Transaction<Database>,
    state: CaseState | undefined,
    at: Date,
    request: CommandRequest,
    loadedCustomer?: CustomerState,
    options: { commits?: boolean } = {},
  ): Promise<{ response: CommandResponse; committed: CommittedEffects | undefined }> {
    const prepared = await prepare(trx, state, at, request, loadedCustomer);
    if (!prepared.save) return { response: prepared.response, committed: undefined };
    // A case not at its version (the row lock makes it unreachable) fails the statement: VERSION_MISMATCH.
    const saved = await saveDecisions(trx, [prepared.save], [], { commits: options.commits ?? false });
    return {
      response: prepared.response,
      committed: { caseId: prepared.save.next.id, effects: prepared.save.effects, pendingOutbox: [...prepared.customerOutbox, ...saved.pendingOutbox] },
    };
  }

  /** One command in a transaction of its own (`case.open`, `run` without group commit, a group's fallback). */
  async function runAlone(request: CommandRequest): Promise<CommandResponse> {
    let committed: CommittedEffects | undefined;
    let response: CommandResponse;
    try {
      response = await deps.db.transaction().execute(async (trx) => {
        let state: CaseState | undefined;
        let customer: CustomerState | undefined;
        let at: Date;
        if (request.command.type !== 'case.open') {
          if (!request.caseId) throw new TesseraError('CASE_NOT_FOUND', 'No case id given');
          const sentAt = clock.local();
          const locked = await loadCaseForUpdate(trx, request.caseId);
          deps.observe?.lockWait('command', clock.local() - sentAt);
          if (!locked) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${request.caseId}`);
          clock.observe(locked.dbNow, sentAt, clock.local());
          state = locked.state;
          customer = locked.customer;
          at = fixedNow?.() ?? locked.dbNow;
          checkLocked(state, request);
        } else if (fixedNow) {
          at = fixedNow();
        } else {
          // Nothing to lock, so the database's time costs a statement of its own (still two in all).
          const sentAt = clock.local();
          at = await readDbTime(trx);
          clock.observe(at, sentAt, clock.local());
        }

        // The transaction's last statement: COMMIT goes with the write.
        const applied = await decideAndSave(trx, state, at, request, customer, { commits: true });
        committed = applied.committed;
        return applied.response;
      });
    } catch (err) {
      if (request.idempotency && isUniqueViolation(err, 'idempotency_keys_pk')) {
        // A concurrent request with the same key committed first: answer as it did.
        const earlier = await replay(request.idempotency);
        if (earlier) return earlier;
      }
      throw err;
    }
    // Written outside the group: a copy group commit kept of this case is stale now.
    if (request.caseId) writtenCases?.forget([request.caseId]);
    if (committed) deps.afterCommit?.([committed]);
    return response;
  }

  /** What group commit keeps of the cases it wrote (written-cases.ts); 0 keeps nothing. */
  const writtenCases = deps.groupCommit && deps.groupCommit.writtenCases !== 0 ? createWrittenCases(deps.groupCommit.writtenCases ?? 2_000) : undefined;

  /**
   * Group commit: the commands of many cases in one transaction — lock and load every case in one
   * round trip (id order, like timer batches), decide each in turn, write the accepted ones in one
   * statement, commit once. Nothing is written before every command of the group was decided, so
   * a refused command fails alone and leaves no trace. If the transaction fails for any reason but
   * a lost connection (a statement error, a concurrent first use of an idempotency key), nothing of
   * it was written: each command runs again alone, so only its own failure reaches it. A lost
   * connection (the session died, perhaps while committing) fails every command of the group with
   * that error, which answers 503 "retry with the same Idempotency-Key": the commit may have
   * happened, and the key makes the retry safe.
   *
   * A case this process wrote last is not loaded at all: the command is decided on the copy kept
   * after that write (written-cases.ts), and the write checks the rows are still the ones the copy
   * came from. When every case of the group is held, the transaction is one round trip (BEGIN,
   * the write, COMMIT). A stale copy's case is left out of the write (the others commit), and its
   * command is decided again on the locked row (`fromCopies` false).
   */
  async function runGroup(requests: CommandRequest[], fromCopies = true): Promise<GroupResult[]> {
    const copies = new Map<string, WrittenCase>();
    if (fromCopies && writtenCases) {
      for (const request of requests) {
        const copy = writtenCases.get(request.caseId!);
        if (copy) copies.set(request.caseId!, copy);
      }
    }
    // A lone command on a case not held here has nothing to share: its own transaction is the same.
    if (requests.length === 1 && copies.size === 0) return [await settle(runAlone(requests[0]!))];
    const caseIds = [...new Set(requests.map((r) => r.caseId!))].sort();
    if (caseIds.length !== requests.length) throw new Error('a command group takes at most one command per case');
    let results: GroupResult[] = [];
    const committed: CommittedEffects[] = [];
    const toRemember: { caseId: string; copy: WrittenCase }[] = [];
    /** Commands decided on a copy that was stale: nothing of theirs was written. */
    const stale: number[] = [];
    try {
      await deps.db.transaction().execute(async (trx) => {
        results = [];
        committed.length = toRemember.length = stale.length = 0;
        const toLoad = caseIds.filter((id) => !copies.has(id));
        const sentAt = clock.local();
        const loaded = toLoad.length > 0 ? await loadCasesForUpdate(trx, toLoad) : undefined;
        if (loaded?.dbNow) clock.observe(loaded.dbNow, sentAt, clock.local());
        if (loaded) for (const [id, read] of loaded.readFrom) writtenCases?.loaded(id, read.caseXmin);
        const at = fixedNow?.() ?? notBefore(loaded?.dbNow ?? clock.now(), copies.values());
        const saves: { index: number; save: SaveInput; customer: CustomerState | undefined; readFrom: ReadFrom | undefined }[] = [];
        for (const [index, request] of requests.entries()) {
          const copy = copies.get(request.caseId!);
          const state = copy?.state ?? loaded?.states.get(request.caseId!);
          if (!state) {
            results.push({ ok: false, error: new TesseraError('CASE_NOT_FOUND', `No case has id ${request.caseId}`) });
            continue;
          }
          const customer = copy ? copy.customer : loaded?.customers.get(state.id);
          try {
            checkLocked(state, request);
            const prepared = await prepare(trx, state, at, request, customer);
            results.push({ ok: true, response: prepared.response });
            if (prepared.save) {
              const save = copy ? { ...prepared.save, readFrom: copy.readFrom } : prepared.save;
              saves.push({ index, save, customer, readFrom: copy?.readFrom ?? loaded?.readFrom.get(state.id) });
            }
          } catch (err) {
            // A refusal fails this command alone; anything else may have broken the transaction.
            if (!(err instanceof TesseraError)) throw err;
            results.push({ ok: false, error: err });
          }
        }
        if (saves.length === 0) return;
        // The group's last statement: COMMIT goes with it. A locked case not at its version (the
        // row locks make it unreachable) fails it whole; a stale copy leaves its case out.
        const writeSentAt = clock.local();
        const saved = await saveDecisions(trx, saves.map((s) => s.save), [], { commits: true });
        if (saved.dbNow) clock.observe(saved.dbNow, writeSentAt, clock.local());
        const pending = new Set(saved.pendingOutbox);
        for (const { index, save, customer, readFrom } of saves) {
          const caseXmin = saved.rowVersions.get(save.next.id);
          if (!caseXmin) {
            stale.push(index);
            continue;
          }
          committed.push({ caseId: save.next.id, effects: save.effects, pendingOutbox: pendingOf(save, pending) });
          // A case whose customer changed with this decision is loaded again next time: the copy
          // would pair the case with the customer row it had before.
          if (save.next.customer?.id !== save.previous?.customer?.id) continue;
          const customerXmin = readFrom?.customerXmin;
          toRemember.push({
            caseId: save.next.id,
            copy: { state: save.next, ...(customer ? { customer } : {}), readFrom: { caseXmin, ...(customerXmin ? { customerXmin } : {}) } },
          });
        }
      });
    } catch (err) {
      writtenCases?.forget(caseIds);
      if (isDatabaseUnavailable(err)) return requests.map(() => ({ ok: false as const, error: err }));
      return Promise.all(requests.map((request) => settle(runAlone(request))));
    }
    for (const { caseId, copy } of toRemember) writtenCases?.written(caseId, copy);
    if (committed.length > 0) deps.afterCommit?.(committed);
    if (stale.length > 0) {
      // Decided again on locked rows; another writer changes these cases too, so no copy of them is kept.
      const again = stale.map((i) => requests[i]!);
      for (const request of again) writtenCases?.stale(request.caseId!);
      const redone = await runGroup(again, false);
      stale.forEach((i, k) => (results[i] = redone[k]!));
    }
    return results;
  }

  const group = deps.groupCommit
    ? createBatcher<CommandRequest, GroupResult>({
        run: runGroup,
        key: (request) => request.caseId!,
        maxBatch: deps.groupCommit.maxBatch ?? 64,
        maxInFlight: deps.groupCommit.maxInFlight ?? 2,
      })
    : undefined;

  async function run(request: CommandRequest): Promise<CommandResponse> {
    // Its row must be marked fired in the same statement; only fireTimers does that.
    if (request.command.type === 'timer.fire') throw new Error('timer.fire commands go through fireTimers');
    if (request.idempotency) {
      const earlier = await replay(request.idempotency);
      if (earlier) return earlier;
    }
    // `case.open` has no case to lock and may create a customer before it decides: it runs alone.
    if (!group || request.command.type === 'case.open' || !request.caseId) return runAlone(request);
    const result = await group.submit(request);
    if (!result.ok) throw result.error;
    return result.response;
  }

  /**
   * Fires due timers, at most one per case, in one transaction: lock and load their cases (one
   * round trip, which also reads the database's time), decide each `timer.fire`, write every
   * change and mark every timer row fired (one statement). A timer whose `dueAt` the database's
   * clock has not reached is left alone (`early`, with how long to wait): no timer fires before
   * its due time, whatever the clock of the machine that runs it. A timer whose state was left is
   * settled without a change. A timer the engine refuses is reported as failed and left pending
   * (its job retries); the others still commit. Journal times and `settled_at` are the
   * database's time. Throws when the transaction fails: then nothing of the batch was applied.
   */
  async function fireTimers(timers: DueTimer[]): Promise<TimerOutcome[]> {
    const caseIds = [...new Set(timers.map((t) => t.caseId))].sort();
    if (caseIds.length !== timers.length) throw new Error('fireTimers takes at most one timer per case');
    const outcomes: TimerOutcome[] = [];
    const committed: CommittedEffects[] = [];
    await deps.db.transaction().execute(async (trx) => {
      outcomes.length = 0;
      committed.length = 0;
      const sentAt = clock.local();
      const loaded = await loadCasesForUpdate(trx, caseIds);
      deps.observe?.lockWait('timer_batch', clock.local() - sentAt);
      const states = loaded.states;
      const customers = loaded.customers;
      if (loaded.dbNow) clock.observe(loaded.dbNow, sentAt, clock.local());
      for (const state of states.values()) await ensureDefinitions(state, trx);
      const at = fixedNow?.() ?? loaded.dbNow ?? clock.now();
      const inputs: SaveInput[] = [];
      const settled: { id: string; at: string }[] = [];
      for (const timer of timers) {
        const state = states.get(timer.caseId);
        if (!state) {
          outcomes.push({ timerId: timer.timerId, outcome: 'case_missing' });
          continue;
        }
        const dueInMs = timer.dueAt === undefined ? 0 : Date.parse(timer.dueAt) - at.getTime();
        if (dueInMs > 0) {
          outcomes.push({ timerId: timer.timerId, outcome: 'early', dueInMs });
          continue;
        }
        let decision: Decision;
        try {
          decision = decide(state, { type: 'timer.fire', timerId: timer.timerId }, TIMER_ACTOR, templateOf(state.template), at, customers.get(state.id));
        } catch (err) {
          outcomes.push({ timerId: timer.timerId, outcome: 'failed', error: err instanceof Error ? err : new Error(String(err)) });
          continue;
        }
        if (!decision.ok) {
          const error = new TesseraError('VALIDATION_FAILED', `timer ${timer.timerId} was refused: ${decision.error.message}`);
          outcomes.push({ timerId: timer.timerId, outcome: 'failed', error });
        } else if (decision.case === state) {
          settled.push({ id: timer.timerId, at: at.toISOString() });
          outcomes.push({ timerId: timer.timerId, outcome: 'stale' });
        } else {
          inputs.push({
            previousVersion: state.version,
            previous: state,
            next: decision.case,
            effects: decision.effects,
            journal: decision.journal,
            firedTimerId: timer.timerId,
          });
          committed.push({ caseId: state.id, effects: decision.effects, pendingOutbox: [] });
          deps.observe?.timerFired({ template: state.template.key, dueAt: timer.dueAt, at, result: decision.result });
          const failed = decision.result?.['failed'];
          outcomes.push(typeof failed === 'string' ? { timerId: timer.timerId, outcome: 'spent', code: failed } : { timerId: timer.timerId, outcome: 'applied' });
        }
      }
      // The batch's last statement: COMMIT goes with it. A case not at its version (the row locks
      // make it unreachable) fails it whole, and the whole batch retries.
      const saved = await saveDecisions(trx, inputs, settled, { commits: true });
      const pending = new Set(saved.pendingOutbox);
      for (const c of committed) {
        c.pendingOutbox = c.effects.flatMap((e) => (e.type === 'outbox.emit' && pending.has(e.event.id) ? [e.event.id] : []));
      }
    });
    writtenCases?.forget(committed.map((c) => c.caseId));
    if (committed.length > 0) deps.afterCommit?.(committed);
    return outcomes;
  }

  /** Hands a committed transaction's effects to the relay (for callers of decideAndSave). */
  function handOver(effects: CommittedEffects[]): void {
    writtenCases?.forget(effects.map((e) => e.caseId));
    if (effects.length > 0) deps.afterCommit?.(effects);
  }

  /** Commands waiting for a group transaction (0 without group commit): a gauge for metrics, a sync point for tests. */
  const groupWaiting = () => group?.waiting() ?? 0;

  /** Drops the copies group commit keeps of these cases (an erasure masked them). */
  const forgetCopies = (caseIds: string[]): void => writtenCases?.forget(caseIds);

  return { run, runAlone, fireTimers, decideAndSave, handOver, clock, replay, groupWaiting, forgetCopies };
}

export type CommandRunner = ReturnType<typeof createCommandRunner>;
