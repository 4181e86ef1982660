/**
 * How long fragments took in resolved cases, read from the journal: from `fragment.added` to
 * `fragment.completed` of the same fragment instance, per definition key (any version), in cases
 * that ended resolved or closed. What-if projections (commands/dry-run.ts) read the median.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface FragmentDuration {
  /** Definition key without the version. */
  key: string;
  medianMs: number;
  /** Completed instances measured. */
  samples: number;
}

export async function fragmentDurations(db: Kysely<Database>, keys: readonly string[]): Promise<Map<string, FragmentDuration>> {
  if (keys.length === 0) return new Map();
  const { rows } = await sql<{ key: string; median_ms: number; samples: number }>`
    select split_part(a.data->>'definition', '@', 1) as key,
      (percentile_cont(0.5) within group (order by extract(epoch from (d.at - a.at)) * 1000))::float8 as median_ms,
      count(*)::int as samples
    from journal a
    join journal d on d.case_id = a.case_id and d.type = 'fragment.completed' and d.data->>'fragmentId' = a.data->>'fragmentId'
    join cases c on c.id = a.case_id and c.status in ('resolved', 'closed')
    where a.type = 'fragment.added' and split_part(a.data->>'definition', '@', 1) = any(${[...keys]}::text[])
    group by 1`.execute(db);
  return new Map(rows.map((r) => [r.key, { key: r.key, medianMs: Math.round(r.median_ms), samples: r.samples }]));
}
