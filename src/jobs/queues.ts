import { createHash } from 'node:crypto';

/** Queue names and job payloads. A job points at a Postgres row; its id is the row id. */
export const QUEUES = {
  /** A timer row is due: deliver it back to its case as a `timer.fire` command. */
  timers: 'tessera-timers',
  /** An outbox row was committed: create its deliveries (job id = outbox id). */
  outbox: 'tessera-outbox',
  /** One attempt of one webhook delivery (job id = `<delivery id>-<attempt>`). */
  webhooks: 'tessera-webhooks',
  /** An inbox row was accepted: apply it (and earlier rows of its correlation key) to its case. */
  inbox: 'tessera-inbox',
  /** A customer timer row is due (behaviour deviation): fire it as a command on the customer. */
  customerTimers: 'tessera-customer-timers',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface TimerJob {
  timerId: string;
  caseId: string;
  /** ISO due time of the row when it was armed; lets the processor skip reading the row. */
  dueAt?: string;
}

export interface CustomerTimerJob {
  timerId: string;
  customerId: string;
  /** ISO due time of the row when it was armed (the processor defers a job that arrives early). */
  dueAt: string;
}

/**
 * Tries of a job that throws — the database restarting, failing over or out of connections —
 * before it fails for good (then the reconciler re-arms its row). With the exponential backoff
 * below, eight tries span about a minute (0.5 + 1 + ... + 32 s): a restart or a failover is ridden
 * out by the job itself, a longer outage by the reconciler.
 */
const TRANSIENT_JOB_ATTEMPTS = 8;

/** Tries of one timer job before it fails for good (then the reconciler re-arms the row). */
export const TIMER_JOB_ATTEMPTS = TRANSIENT_JOB_ATTEMPTS;
/** Base of the exponential backoff between those tries. */
export const TIMER_JOB_BACKOFF_MS = 500;

/** The outbox rows of one committed transaction (job id = the first one's id), or one row the reconciler found. */
export interface DispatchEventJob {
  outboxIds: string[];
}

export interface DeliverWebhookJob {
  deliveryId: string;
  /** Which attempt this job makes; the row must have made the ones before (see claimAttempt). */
  attempt: number;
}

/** Tries of a dispatch or delivery job that throws (database trouble, not a failed receiver). */
export const WEBHOOK_JOB_ATTEMPTS = TRANSIENT_JOB_ATTEMPTS;
export const WEBHOOK_JOB_BACKOFF_MS = 500;
export interface InboxJob {
  inboxId: string;
  /**
   * The apply lane of the row's (source, correlation key): a 16-bit hash, so rows of one key share
   * it and a worker keeps them out of one batch (jobs/apply-inbox-job.ts); many keys share each
   * lane, so it says nothing about the sender (job data carries no personal data). Absent on
   * jobs queued before lanes existed: such a job is batched with any other.
   */
  lane?: number;
}

/** The lane of a (source, correlation key): see InboxJob.lane. */
export function inboxLane(source: string, correlationKey: string): number {
  return createHash('sha256').update(source).update('\u0000').update(correlationKey).digest().readUInt16BE(0);
}

/** Tries of one inbox job (transient failures only; refusals settle the row). */
export const INBOX_JOB_ATTEMPTS = TRANSIENT_JOB_ATTEMPTS;
export const INBOX_JOB_BACKOFF_MS = 500;
