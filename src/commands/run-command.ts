/**
 * The command transaction — the only way a case changes:
 *   lock the case row and load the aggregate -> engine.decide (pure) -> write the case, journal,
 *   tasks, timers, outbox, content and idempotency key in one statement -> commit
 *   -> hand the new timers and outbox rows to the relay.
 * All or nothing: a refused command or a crash before commit leaves no trace.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Engine } from '../cases/engine.js';
import type { Actor, CaseState, Command, Decision, Effect } from '../cases/types.js';
import { ERROR_CODES, TesseraError, type ErrorCode } from '../errors.js';
import {
  findIdempotencyRecord,
  loadCaseForUpdate,
  saveDecision,
  settleTimer,
} from '../persistence/case-store.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import { isUniqueViolation } from '../persistence/driver-errors.js';
import type { Database } from '../persistence/schema.js';
import type { Catalog } from './catalog.js';

export interface CommittedEffects {
  caseId: string;
  effects: Effect[];
}

export interface CommandRunnerDeps {
  db: Kysely<Database>;
  engine: Engine;
  catalog: Catalog;
  /** Called after commit with what the relay must hand to the queue. Must not throw. */
  afterCommit?: (committed: CommittedEffects) => void;
  now?: () => Date;
  newId?: () => string;
}

export interface IdempotencyRequest {
  /** Keys are scoped per caller. */
  owner: string;
  key: string;
  /** Hash of what the request asked for; the same key with another request is refused. */
  requestHash: string;
}

export interface CommandSuccess {
  case: CaseState;
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
  /** The answer (stored with the idempotency key, replayed for repeats). */
  respond: (success: CommandSuccess) => { statusCode: number; body: unknown };
}

export interface CommandResponse {
  statusCode: number;
  body: unknown;
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

export function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function refuse(error: { code: string; message: string; details?: Record<string, unknown> }): never {
  const code = (error.code in ERROR_CODES ? error.code : 'VALIDATION_FAILED') as ErrorCode;
  throw new TesseraError(code, error.message, error.details);
}

export function createCommandRunner(deps: CommandRunnerDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;

  async function replay(idem: IdempotencyRequest): Promise<CommandResponse | undefined> {
    const stored = await findIdempotencyRecord(deps.db, idem.owner, idem.key);
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
    const missing = state.fragments.map((f) => f.definition).filter((ref) => !deps.catalog.fragment(ref));
    if (missing.length === 0) return;
    for (const definition of await loadFragmentDefinitions(trx, [...new Set(missing)])) deps.catalog.remember(definition);
  }

  async function run(request: CommandRequest): Promise<CommandResponse> {
    if (request.idempotency) {
      const earlier = await replay(request.idempotency);
      if (earlier) return earlier;
    }
    let committed: CommittedEffects | undefined;
    let response: CommandResponse;
    try {
      response = await deps.db.transaction().execute(async (trx) => {
        let state: CaseState | undefined;
        if (request.command.type !== 'case.open') {
          if (!request.caseId) throw new TesseraError('CASE_NOT_FOUND', 'No case id given');
          state = await loadCaseForUpdate(trx, request.caseId);
          if (!state) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${request.caseId}`);
          request.authorize?.(state);
          if (request.expectedVersion !== undefined && request.expectedVersion !== state.version) {
            throw new TesseraError(
              'VERSION_MISMATCH',
              `The case is at version ${state.version}, not ${request.expectedVersion}; reload it and try again`,
              { current_version: state.version },
            );
          }
          await ensureDefinitions(state, trx);
        }

        const templateRef = state ? state.template : request.template;
        const template = templateRef ? deps.catalog.template(templateRef.key, templateRef.version) : undefined;
        if (!template) {
          const name = templateRef ? `${templateRef.key}${templateRef.version ? `@${templateRef.version}` : ''}` : '(none)';
          throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${name}; GET /v1/templates lists them`);
        }

        const decision = deps.engine.decide(state, request.command, {
          now: now(),
          actor: request.actor,
          newId,
          template,
          definitions: (ref) => deps.catalog.fragment(ref),
        });
        if (!decision.ok) refuse(decision.error);

        const answer = request.respond({ case: decision.case, decision });
        const firedTimerId = request.command.type === 'timer.fire' ? request.command.timerId : undefined;
        if (state && decision.case === state) {
          // Nothing to write (a stale timer, a dry run); a fired timer is settled all the same.
          if (firedTimerId) await settleTimer(trx, firedTimerId, now().toISOString());
          return { ...answer, replayed: false };
        }
        const written = await saveDecision(trx, {
          previousVersion: state?.version,
          ...(state ? { previous: state } : {}),
          next: decision.case,
          effects: decision.effects,
          journal: decision.journal,
          ...(firedTimerId ? { firedTimerId } : {}),
          ...(request.idempotency
            ? { idempotency: { ...request.idempotency, statusCode: answer.statusCode, response: answer.body } }
            : {}),
        });
        // The row lock makes this unreachable; if it ever happens, refusing beats a lost update.
        if (!written) throw new TesseraError('VERSION_MISMATCH', 'The case changed concurrently; try again');
        committed = { caseId: decision.case.id, effects: decision.effects };
        return { ...answer, replayed: false };
      });
    } catch (err) {
      if (request.idempotency && isUniqueViolation(err, 'idempotency_keys_pk')) {
        // A concurrent request with the same key committed first: answer as it did.
        const earlier = await replay(request.idempotency);
        if (earlier) return earlier;
      }
      throw err;
    }
    if (committed) deps.afterCommit?.(committed);
    return response;
  }

  return { run };
}

export type CommandRunner = ReturnType<typeof createCommandRunner>;
