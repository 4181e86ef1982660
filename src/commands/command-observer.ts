/**
 * What the command runner reports as it goes, for metrics (ops/command-metrics.ts). A seam of
 * two calls so the runner stays free of any metrics library. Implementations must not throw.
 */
export interface CommandObserver {
  /** Taking the case row lock(s) and loading took `ms` (local clock). */
  lockWait(path: 'command' | 'timer_batch', ms: number): void;
  /** A timer changed its case at `at` (database time); `dueAt` ISO when known; `result` is the decision's (SLA points name `point`). */
  timerFired(fired: { template: string; dueAt: string | undefined; at: Date; result: Record<string, unknown> | undefined }): void;
}
