/**
 * What intake needs from the customer aggregate and from the signals pipeline, as two small
 * seams passed in to the applier (dependencies in one object). server.ts / services.ts wire
 * the real ones; the defaults below keep intake working without them (no customer store: the
 * inbox row keeps the event; sentiment: the score the sender provided, if any).
 */
import type { Priority } from '../cases/types.js';
import type { IntakeEvent } from './intake-event.js';

export interface IntakeIdempotency {
  owner: string;
  key: string;
}

export interface IntakeCustomer {
  /** Undefined when no customer store is wired. */
  id?: string;
  /** What intake rules read as `customer` in CEL (profile, metrics): an empty map for a new customer. */
  summary: Record<string, unknown>;
}

export interface IntakeCustomers {
  /** The customer who owns the event's identity, created from it when none does; once per idempotency key. */
  resolve(event: IntakeEvent, idempotency: IntakeIdempotency): Promise<IntakeCustomer>;
  /**
   * Records an event no case took (a positive post, an unmatched one) on the customer, as of `at`
   * (when the sender sent it); once per key.
   */
  record(customer: IntakeCustomer, event: IntakeEvent, idempotency: IntakeIdempotency, at: Date): Promise<{ recorded: boolean }>;
}

export interface IntakeAnalysis {
  /** Computed (or provided) sentiment: score in [-1, 1], label, and the model that gave it. */
  sentiment?: { score: number; label: string; model: string };
  /** Content data as the case stores it (validated / enriched by the signals pipeline). */
  data: Record<string, unknown>;
  /** Priority from the signals' formula, when it has one for this event (overrides the rule's when higher). */
  priority?: Priority;
}

export interface IntakeSignals {
  /**
   * Deterministic for the same event (re-runs after a crash must decide the same). Runs before
   * anything is written: a TesseraError (4xx) for invalid content fails the row with nothing written.
   */
  analyse(event: IntakeEvent): IntakeAnalysis | Promise<IntakeAnalysis>;
}

const label = (score: number) => (score <= -0.05 ? 'negative' : score >= 0.05 ? 'positive' : 'neutral');

/** Without the signals pipeline: the sender's own `sentiment` number, if it gave one. */
export const providedSignals: IntakeSignals = {
  analyse(event) {
    const given = event.data.sentiment;
    // `sentiment: { score }` as the typed social_post has it, or a bare number.
    const provided = typeof given === 'object' && given !== null ? (given as { score?: unknown }).score : given;
    if (typeof provided === 'number' && Number.isFinite(provided) && provided >= -1 && provided <= 1) {
      return { sentiment: { score: provided, label: label(provided), model: 'provided' }, data: event.data };
    }
    return { data: event.data };
  },
};

/** Without a customer store: no id, an empty summary, and nothing recorded beyond the inbox row. */
export const noCustomers: IntakeCustomers = {
  async resolve() {
    return { summary: {} };
  },
  async record() {
    return { recorded: false };
  },
};
