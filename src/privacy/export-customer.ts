/**
 * Right of access: everything Tessera holds about a customer, as one JSON document — the rows of
 * every place in the registry (personal-data.ts), as stored, under the place's name with what it
 * holds. Secrets sealed for other people (a one-time API key in a stored answer) are left out.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../persistence/schema.js';
import { customerSubject } from './collect-subject.js';
import { PERSONAL_DATA_PLACES } from './personal-data.js';

export interface CustomerExport {
  customer_id: string;
  exported_at: string;
  case_ids: string[];
  places: Record<string, { holds: string; rows: unknown[] }>;
}

export async function exportCustomer(db: Kysely<Database>, customerId: string, now: Date): Promise<CustomerExport> {
  const subject = await customerSubject(db, customerId);
  const places: CustomerExport['places'] = {};
  for (const place of PERSONAL_DATA_PLACES) {
    const rows = await place.export(db, subject);
    if (rows.length === 0 && place.name === 'redis_jobs') continue;
    places[place.name] = {
      holds: place.holds,
      rows: rows.map((r) => {
        const { response_sealed: _sealed, ...rest } = r as Record<string, unknown>;
        return rest;
      }),
    };
  }
  return { customer_id: customerId, exported_at: now.toISOString(), case_ids: subject.caseIds, places };
}
