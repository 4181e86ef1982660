/**
 * The customer command transaction step, for use inside any transaction: lock the customer row,
 * load it, decide (pure), write the row, identities, external ids, activity, journal and outbox
 * (one statement). Routes call it through their idempotent write (one transaction per request);
 * other modules (case open, intake, signals, deviation) call it inside their own transaction, so
 * the customer changes together with what caused it, or not at all.
 *
 * After commit, the caller hands `pendingOutbox` to the relay (`relay.handOverOutbox`).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import { decideCustomer } from '../customers/decide.js';
import type { CustomerCommand, CustomerDecision, CustomerState } from '../customers/types.js';
import { ERROR_CODES, TesseraError, type ErrorCode } from '../errors.js';
import { loadCustomerForUpdate, saveCustomer } from '../persistence/customer-store.js';
import type { Database } from '../persistence/schema.js';
import type { IdempotentWriter } from './run-idempotent.js';

/** What every customer command needs; assembled once (http/customer-routes.ts, the workers). */
export interface CustomerCommandDeps {
  db: Kysely<Database>;
  writer: IdempotentWriter;
  /** After commit: outbox rows some subscription wants (the relay's `handOverOutbox`). */
  handOver: (outboxIds: string[]) => void;
  /** A fixed clock for tests; default: the database's time of the lock. */
  now?: () => Date;
  newId?: () => string;
}

export interface CustomerStep {
  /** Absent for `customer.create`. */
  customerId?: string;
  /** For `customer.create`: the id to give the new customer (default: a new UUID). */
  newCustomerId?: string;
  command: CustomerCommand;
  actor: Actor;
  /** `If-Match`: refuse with 412 unless the customer is at this version. */
  expectedVersion?: number;
  /** Time of the decision; default: the database's time when the row was locked. */
  at?: Date;
  newId?: () => string;
}

export interface CustomerStepResult {
  customer: CustomerState;
  /** False when the command changed nothing (nothing was written). */
  changed: boolean;
  pendingOutbox: string[];
  decision: Extract<CustomerDecision, { ok: true }>;
}

/** A refused decision as an API error. */
export function refuseCustomer(error: { code: string; message: string; details?: Record<string, unknown> }): never {
  const code = (error.code in ERROR_CODES ? error.code : 'VALIDATION_FAILED') as ErrorCode;
  throw new TesseraError(code, error.message, error.details);
}

/** Throws the 404 for a missing customer, or the tombstone's 409 with its survivor. */
export function notFound(customerId: string): never {
  throw new TesseraError('CUSTOMER_NOT_FOUND', `No customer has id ${customerId}; GET /v1/customers finds customers by identity or external id`);
}

/**
 * Runs one customer command in `trx` (which must be a transaction). Throws a TesseraError for a
 * refusal — the caller's transaction then rolls back.
 */
export async function applyCustomerCommand(trx: Kysely<Database>, step: CustomerStep): Promise<CustomerStepResult> {
  const newId = step.newId ?? randomUUID;
  let state: CustomerState | undefined;
  let at = step.at;
  if (step.command.type !== 'customer.create') {
    if (!step.customerId) throw new TesseraError('CUSTOMER_NOT_FOUND', 'No customer id given');
    const locked = await loadCustomerForUpdate(trx, step.customerId);
    if (!locked) notFound(step.customerId);
    state = locked.state;
    at ??= locked.dbNow;
    if (step.expectedVersion !== undefined && step.expectedVersion !== state.version) {
      throw new TesseraError(
        'CUSTOMER_VERSION_MISMATCH',
        `The customer is at version ${state.version}, not ${step.expectedVersion}; reload it and try again`,
        { current_version: state.version },
      );
    }
  }
  at ??= await databaseNow(trx);
  const decision = decideCustomer(state, step.command, { now: at, actor: step.actor, newId }, step.newCustomerId);
  if (!decision.ok) refuseCustomer(decision.error);
  if (state && decision.customer === state) return { customer: state, changed: false, pendingOutbox: [], decision };
  const saved = await saveCustomer(trx, {
    previousVersion: state?.version,
    next: decision.customer,
    effects: decision.effects,
    journal: decision.journal,
    actor: step.actor,
  });
  return { customer: decision.customer, changed: true, pendingOutbox: saved.pendingOutbox, decision };
}

async function databaseNow(trx: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date | string }>`select statement_timestamp() as now`.execute(trx);
  return new Date(rows[0]!.now);
}
