/** Reads what a handoff brief is built from (cases/handoff-brief.ts), in the command transaction. */
import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { HandoffInput, JournalEntry } from '../cases/types.js';
import type { Database } from './schema.js';

/** At most this many journal entries are read (the latest); `journalTotal` still counts them all. */
export const HANDOFF_JOURNAL_LIMIT = 200;

/**
 * The journal of `caseId` after `sinceVersion` (the latest HANDOFF_JOURNAL_LIMIT entries, oldest
 * first, with the total) and the case's latest social post and CRM profile — one statement.
 */
export async function loadHandoffInput(trx: Transaction<Database>, caseId: string, sinceVersion: number): Promise<HandoffInput> {
  const { rows } = await sql<HandoffColumns>`select ${handoffColumns(sql`${caseId}::text`, sql`${sinceVersion}::int`)}`.execute(trx);
  return toHandoffInput(rows[0]);
}

/** The columns `journal`, `total`, `content` of a select, for the case and version expressions given. */
export function handoffColumns(caseId: RawBuilder<unknown>, since: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
      (select jsonb_agg(j order by j.version, j.idx) from (
         select version, idx, type, actor_id, actor_role, reason, data, at from journal
         where case_id = ${caseId} and version > ${since}
         order by version desc, idx desc limit ${sql.lit(HANDOFF_JOURNAL_LIMIT)}) j) as journal,
      (select count(*)::int from journal where case_id = ${caseId} and version > ${since}) as total,
      (select jsonb_agg(x) from (
         select distinct on (kind) kind, data, added_at from content
         where case_id = ${caseId} and kind in ('social_post', 'crm_profile')
         order by kind, added_at desc) x) as content`;
}

export interface HandoffColumns {
  journal: RawEntry[] | null;
  total: number;
  content: RawContent[] | null;
}

export function toHandoffInput(row: HandoffColumns | undefined): HandoffInput {
  return {
    journal: (row?.journal ?? []).map((e) => {
      const entry: JournalEntry & { version: number } = {
        version: e.version,
        type: e.type,
        actor: { id: e.actor_id, role: e.actor_role as JournalEntry['actor']['role'] },
        data: e.data,
        at: new Date(e.at).toISOString(),
      };
      if (e.reason !== null) entry.reason = e.reason;
      return entry;
    }),
    journalTotal: row?.total ?? 0,
    latestContent: (row?.content ?? []).map((c) => ({ kind: c.kind, data: c.data, addedAt: new Date(c.added_at).toISOString() })),
  };
}

export interface RawEntry {
  version: number;
  idx: number;
  type: string;
  actor_id: string;
  actor_role: string;
  reason: string | null;
  data: Record<string, unknown>;
  at: string;
}

export interface RawContent {
  kind: 'social_post' | 'crm_profile';
  data: Record<string, unknown>;
  added_at: string;
}
