/**
 * Who is being erased or exported, and which strings are theirs: read from the source places
 * (customer, identities, cases, content, tasks) — never stored anywhere, so a resumed erasure
 * reads them again from what is not yet masked (personal-data.ts keeps the sources last).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../persistence/schema.js';
import { PersonalStrings, stringsOf } from './mask.js';
import type { Subject } from './personal-data.js';

type Db = Kysely<Database>;

/** `%value%` for ilike, with the pattern characters escaped. */
function pattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Strings learned from the subject's rows; ERASED values and skeleton-only rows add nothing. */
async function personalStringsOf(db: Db, customerIds: string[], caseIds: string[]): Promise<string[]> {
  const out: string[] = [];
  if (customerIds.length > 0) {
    const customers = await db.selectFrom('customers').select(['name', 'state']).where('id', 'in', customerIds).execute();
    for (const c of customers) {
      if (c.name) out.push(c.name);
      const state = c.state as { identities?: { value?: string }[]; externalIds?: Record<string, string>; profile?: unknown };
      for (const i of state.identities ?? []) if (i.value) out.push(i.value);
      out.push(...Object.values(state.externalIds ?? {}));
      stringsOf(state.profile, out);
    }
    const ids = await db.selectFrom('customer_identities').select('value').where('customer_id', 'in', customerIds).execute();
    out.push(...ids.map((r) => r.value));
    const ext = await db.selectFrom('customer_external_ids').select('external_id').where('customer_id', 'in', customerIds).execute();
    out.push(...ext.map((r) => r.external_id));
  }
  if (caseIds.length > 0) {
    const cases = await db.selectFrom('cases').select(['title', 'state']).where('id', 'in', caseIds).execute();
    for (const c of cases) {
      out.push(c.title);
      const state = c.state as { customer?: Record<string, unknown>; externalRefs?: Record<string, string>; caseFile?: unknown; posts?: { authorHandle?: string; identity?: string }[] };
      const { id: _id, channel: _channel, ...customer } = state.customer ?? {};
      stringsOf(customer, out);
      out.push(...Object.values(state.externalRefs ?? {}));
      stringsOf(state.caseFile, out);
      for (const p of state.posts ?? []) {
        if (p.authorHandle) out.push(p.authorHandle);
        if (p.identity) out.push(p.identity.replace(/^[^|]*\|(id|url):/, ''));
      }
    }
    const content = await db.selectFrom('content').select('data').where('case_id', 'in', caseIds).execute();
    for (const c of content) stringsOf(c.data, out);
    const tasks = await db.selectFrom('tasks').select('body').where('case_id', 'in', caseIds).execute();
    for (const t of tasks) stringsOf((t.body as { output?: unknown }).output, out);
    const keys = await db.selectFrom('case_keys').select('value').where('case_id', 'in', caseIds).execute();
    out.push(...keys.map((k) => k.value));
  }
  return out;
}

function subjectOf(customerIds: string[], caseIds: string[], strings: string[]): Subject {
  const personal = new PersonalStrings(strings);
  return { customerIds, caseIds, personal, patterns: personal.values.map(pattern) };
}

/** A customer (with the customers merged into it) and all their cases. */
export async function customerSubject(db: Db, customerId: string): Promise<Subject> {
  const merged = await db.selectFrom('customers').select('id').where('merged_into', '=', customerId).execute();
  const customerIds = [customerId, ...merged.map((m) => m.id)];
  const cases = await db.selectFrom('cases').select('id').where('customer_id', 'in', customerIds).execute();
  const caseIds = cases.map((c) => c.id);
  return subjectOf(customerIds, caseIds, await personalStringsOf(db, customerIds, caseIds));
}

/**
 * Some cases only (retention): their own personal strings, plus their customer's identities so
 * copies of a handle in the journal go too — the customer aggregate itself is left alone.
 */
export async function casesSubject(db: Db, caseIds: string[]): Promise<Subject> {
  const rows = await db.selectFrom('cases').select('customer_id').where('id', 'in', caseIds).execute();
  const customers = [...new Set(rows.map((r) => r.customer_id).filter((c): c is string => c !== null))];
  const identities = customers.length === 0 ? [] : (await sql<{ value: string }>`select value from customer_identities where customer_id = any(${customers}::text[])`.execute(db)).rows;
  const strings = [...(await personalStringsOf(db, [], caseIds)), ...identities.map((r) => r.value)];
  return subjectOf([], caseIds, strings);
}
