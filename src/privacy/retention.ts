/**
 * Retention per template: a template with `retention: { closedCaseDays: N }` has the personal data
 * of its cases closed more than N days ago erased, the same way as a customer erasure but for
 * those cases only (the customer aggregate stays: they may have newer cases). Runs in the
 * workers with the reconciler; each pass takes a bounded page per template, oldest first, from
 * an index that holds only closed cases not yet erased (migration 0061).
 */
import { sql, type Kysely } from 'kysely';
import type { Catalog } from '../commands/catalog.js';
import type { Database } from '../persistence/schema.js';
import type { Eraser } from './erase-personal-data.js';

const PAGE = 100;

export interface RetentionDeps {
  db: Kysely<Database>;
  catalog: Catalog;
  eraser: Eraser;
  /** The database's time as this process knows it (tests move it). */
  now: () => Date;
}

/** One pass; returns how many cases were erased. */
export async function runRetention(deps: RetentionDeps): Promise<number> {
  let erased = 0;
  for (const template of deps.catalog.templates()) {
    const days = template.retention?.closedCaseDays;
    if (days === undefined) continue;
    const before = new Date(deps.now().getTime() - days * 86_400_000);
    // Every version of the template follows its latest retention: a policy is about the case type.
    const due = await sql<{ id: string }>`
      select id from cases where template_key = ${template.key} and closed_at is not null and erased_at is null and closed_at < ${before}
      order by closed_at limit ${PAGE}`.execute(deps.db);
    if (due.rows.length === 0) continue;
    await deps.eraser.erase({
      trigger: 'retention',
      caseIds: due.rows.map((r) => r.id),
      basis: 'retention',
      reason: `template ${template.key} keeps personal data of closed cases for ${days} days`,
      requestedBy: { id: 'retention', role: 'system' },
    });
    erased += due.rows.length;
  }
  return erased;
}
