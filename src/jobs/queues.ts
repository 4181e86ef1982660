/** Queue names and job payloads. A job points at a Postgres row; its id is the row id. */
export const QUEUES = {
  /** A timer row is due: deliver it back to its case as a `timer.fire` command. */
  timers: 'tessera-timers',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface TimerJob {
  timerId: string;
  caseId: string;
}
