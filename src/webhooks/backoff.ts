/**
 * Delay before the attempt after attempt `n` (1-based): exponential, capped, with "equal jitter"
 * (a random point in the upper half), so receivers that failed together are not retried together
 * yet the delay never collapses to zero.
 */
export function backoffDelayMs(n: number, options: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(n - 1, 40));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
