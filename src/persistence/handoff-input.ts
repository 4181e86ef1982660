/** Reads what a handoff brief is built from (cases/handoff-brief.ts), in the command transaction. */
import { sql, type RawBuilder, type Transaction } from 'kysely';
import { postSentiment } from '../cases/handoff-brief.js';
import type { ContentAnalysis, CustomerSummary, HandoffInput, JournalEntry } from '../cases/types.js';
import type { Database } from './schema.js';

/** At most this many journal entries are read (the latest); `journalTotal` still counts them all. */
export const HANDOFF_JOURNAL_LIMIT = 200;

/**
 * The journal of `caseId` after `sinceVersion` (the latest HANDOFF_JOURNAL_LIMIT entries, oldest
 * first, with the total), the case's latest social post and CRM profile, and the case's customer
 * (value, segment, churn risk, last contact) — one statement.
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
         select distinct on (kind) kind, data, analysis, added_at from content
         where case_id = ${caseId} and kind in ('social_post', 'crm_profile')
         order by kind, coalesce(updated_at, added_at) desc) x) as content,
      (select jsonb_build_object('id', cu.id, 'name', cu.name, 'lifetime_value', cu.lifetime_value, 'segment', cu.segment,
                                 'churn_risk', cu.churn_risk, 'last_contact_at', cu.last_contact_at)
         from cases ca join customers cu on cu.id = ca.customer_id where ca.id = ${caseId}) as customer`;
}

export interface HandoffColumns {
  journal: RawEntry[] | null;
  total: number;
  content: RawContent[] | null;
  customer: RawCustomer | null;
}

export function toHandoffInput(row: HandoffColumns | undefined): HandoffInput {
  const latestContent = (row?.content ?? []).map((c) => ({
    kind: c.kind,
    data: c.data,
    addedAt: new Date(c.added_at).toISOString(),
    ...(c.analysis ? { analysis: c.analysis } : {}),
  }));
  const customer = row?.customer ? customerSummary(row.customer, latestContent.find((c) => c.kind === 'social_post')) : undefined;
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
    latestContent,
    ...(customer ? { customer } : {}),
  };
}

/**
 * The customer aggregate's facts for the brief. Mood is the sentiment of the case's latest post:
 * the score Tessera computed, else the one the sender gave.
 */
function customerSummary(c: RawCustomer, post: HandoffInput['latestContent'][number] | undefined): CustomerSummary {
  const summary: CustomerSummary = { id: c.id };
  if (c.name !== null) summary.name = c.name;
  if (c.lifetime_value !== null) summary.lifetimeValue = c.lifetime_value;
  if (c.segment !== null) summary.segment = c.segment;
  if (c.churn_risk !== null) summary.churnRisk = c.churn_risk;
  const sentiment = post ? postSentiment(post) : undefined;
  if (sentiment !== undefined) {
    summary.sentiment = sentiment;
    summary.sentimentAt = post!.addedAt;
  }
  if (c.last_contact_at !== null) summary.lastContact = { at: new Date(c.last_contact_at).toISOString() };
  return summary;
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
  analysis: ContentAnalysis | null;
  added_at: string;
}

export interface RawCustomer {
  id: string;
  name: string | null;
  lifetime_value: number | null;
  segment: string | null;
  churn_risk: number | null;
  last_contact_at: string | null;
}
