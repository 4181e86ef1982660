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

/**
 * Strings learned from the subject's rows: `identifiers` (name, identities, external ids and refs,
 * correlation keys) find copies in rows that are not obviously theirs (an inbox payload, a stored
 * answer); `strings` (those plus every value of case files, content and task outputs) are masked
 * wherever they appear inside the subject's own rows. Free text is not used to find other rows:
 * a word like "negative" would drag other customers' rows in.
 */
async function personalStringsOf(db: Db, customerIds: string[], caseIds: string[]): Promise<{ identifiers: string[]; strings: string[] }> {
  const out: string[] = [];
  const identifiers: string[] = [];
  if (customerIds.length > 0) {
    const customers = await db.selectFrom('customers').select(['name', 'state']).where('id', 'in', customerIds).execute();
    for (const c of customers) {
      if (c.name) identifiers.push(c.name);
      const state = c.state as { identities?: { value?: string }[]; externalIds?: Record<string, string>; profile?: unknown };
      for (const i of state.identities ?? []) if (i.value) identifiers.push(i.value);
      identifiers.push(...Object.values(state.externalIds ?? {}));
      stringsOf(state.profile, out);
    }
    const ids = await db.selectFrom('customer_identities').select('value').where('customer_id', 'in', customerIds).execute();
    identifiers.push(...ids.map((r) => r.value));
    const ext = await db.selectFrom('customer_external_ids').select('external_id').where('customer_id', 'in', customerIds).execute();
    identifiers.push(...ext.map((r) => r.external_id));
  }
  if (caseIds.length > 0) {
    const cases = await db.selectFrom('cases').select(['title', 'state']).where('id', 'in', caseIds).execute();
    for (const c of cases) {
      out.push(c.title);
      const state = c.state as { customer?: Record<string, unknown>; externalRefs?: Record<string, string>; caseFile?: unknown; posts?: { authorHandle?: string; identity?: string }[] };
      const { id: _id, channel: _channel, ...customer } = state.customer ?? {};
      stringsOf(customer, identifiers);
      identifiers.push(...Object.values(state.externalRefs ?? {}));
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
    identifiers.push(...keys.map((k) => k.value));
  }
  return { identifiers, strings: [...identifiers, ...out] };
}

/**
 * Free text counts as a personal string when it is text, not a code: a short word of a form
 * (`high`, `product`) is an enum value every case shares, and would mask the skeleton.
 */
const isFreeText = (s: string) => s.length >= 12 || /\s/.test(s.trim());

function subjectOf(customerIds: string[], caseIds: string[], found: { identifiers: string[]; strings: string[] }): Subject {
  const personal = new PersonalStrings([...found.identifiers, ...found.strings.filter(isFreeText)]);
  return { customerIds, caseIds, personal, patterns: new PersonalStrings(found.identifiers).values.map(pattern) };
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
  const found = await personalStringsOf(db, [], caseIds);
  const values = identities.map((r) => r.value);
  return subjectOf([], caseIds, { identifiers: [...found.identifiers, ...values], strings: [...found.strings, ...values] });
}
