/**
 * When a customer's metrics change (CRM values, a merge), the priority of their active cases
 * must follow: `recomputeCustomerPriority` runs `priority.recompute` on each open or held case
 * of the customer, one command transaction per case (each locks its case and reads the fresh
 * value percentiles in it). A case whose score does not move is not written (no journal entry).
 *
 * Call it after the customer's own transaction committed. A crash between the two leaves the
 * old scores until the next content, recompute or override on those cases.
 */
import type { Kysely } from 'kysely';
import type { Actor } from '../cases/types.js';
import type { Database } from '../persistence/schema.js';
import { TesseraError } from '../errors.js';
import type { CommandRunner } from './run-command.js';

export interface RecomputeDeps {
  db: Kysely<Database>;
  runner: CommandRunner;
}

export const RECOMPUTE_ACTOR: Actor = { id: 'customer-metrics', role: 'system' };

/** Returns each active case of the customer and whether its priority score or priority changed. */
export async function recomputeCustomerPriority(
  deps: RecomputeDeps,
  customerId: string,
  options: { actor?: Actor; reason?: string } = {},
): Promise<{ caseId: string; changed: boolean; priority?: string }[]> {
  const rows = await deps.db
    .selectFrom('cases')
    .select('id')
    .where('customer_id', '=', customerId)
    .where('status', 'in', ['open', 'on_hold'])
    .orderBy('id')
    .execute();
  const results: { caseId: string; changed: boolean; priority?: string }[] = [];
  for (const { id } of rows) {
    try {
      const response = await deps.runner.run({
        caseId: id,
        command: { type: 'priority.recompute', ...(options.reason ? { reason: options.reason } : {}) },
        actor: options.actor ?? RECOMPUTE_ACTOR,
        respond: ({ case: c, decision }) => ({ statusCode: 200, body: { changed: decision.result?.['noop'] !== true, priority: c.priority } }),
      });
      const body = response.body as { changed: boolean; priority: string };
      results.push({ caseId: id, changed: body.changed, priority: body.priority });
    } catch (err) {
      // The case closed between the listing and the command: nothing to recompute.
      if (err instanceof TesseraError && (err.code === 'CASE_NOT_OPEN' || err.code === 'CASE_NOT_FOUND')) continue;
      throw err;
    }
  }
  return results;
}
