/** Inbound source rows. Secrets arrive and leave sealed; opening them is the caller's business. */
import { inTransaction } from './in-transaction.js';
import type { Kysely } from 'kysely';
import type { Mapping } from '../inbound/mapping.js';
import type { Database } from './schema.js';

export interface StoredSecret {
  id: string;
  /** SecretBox-sealed `whsec_...`. */
  sealed: string;
  created_at: string;
  /** After this the secret no longer verifies (set when a rotation retires it). */
  expires_at: string | null;
}

export interface InboundSourceRecord {
  key: string;
  description: string | null;
  secrets: StoredSecret[];
  mapping: Mapping;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

type Row = Awaited<ReturnType<typeof selectSources>>[number];

function selectSources(db: Kysely<Database>) {
  return db.selectFrom('inbound_sources').selectAll().orderBy('key').execute();
}

function toRecord(row: Row): InboundSourceRecord {
  return {
    key: row.key,
    description: row.description,
    secrets: row.secrets as StoredSecret[],
    mapping: row.mapping as Mapping,
    enabled: row.enabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

const json = (value: unknown) => JSON.stringify(value);

export function createInboundSourceStore(db: Kysely<Database>) {
  return {
    async list(): Promise<InboundSourceRecord[]> {
      return (await selectSources(db)).map(toRecord);
    },

    async find(key: string): Promise<InboundSourceRecord | undefined> {
      const row = await db.selectFrom('inbound_sources').selectAll().where('key', '=', key).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },

    /** False when the key is taken. */
    async create(input: { key: string; description: string | null; secrets: StoredSecret[]; mapping: Mapping; enabled: boolean }): Promise<boolean> {
      const result = await db
        .insertInto('inbound_sources')
        .values({ key: input.key, description: input.description, secrets: json(input.secrets), mapping: json(input.mapping), enabled: input.enabled })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async update(
      key: string,
      changes: { description?: string | null; mapping?: Mapping; enabled?: boolean; secrets?: StoredSecret[] },
    ): Promise<InboundSourceRecord | undefined> {
      const row = await db
        .updateTable('inbound_sources')
        .set({
          ...(changes.description !== undefined ? { description: changes.description } : {}),
          ...(changes.mapping !== undefined ? { mapping: json(changes.mapping) } : {}),
          ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
          ...(changes.secrets !== undefined ? { secrets: json(changes.secrets) } : {}),
          updated_at: new Date(),
        })
        .where('key', '=', key)
        .returningAll()
        .executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },

    /**
     * Read-modify-write of the secrets under the row lock, so two rotations at once cannot lose
     * one. `change` returns the new list, or throws to refuse. Undefined when there is no source.
     */
    async changeSecrets(key: string, change: (secrets: StoredSecret[]) => StoredSecret[]): Promise<InboundSourceRecord | undefined> {
      return inTransaction(db, async (trx) => {
        const current = await trx.selectFrom('inbound_sources').select('secrets').where('key', '=', key).forUpdate().executeTakeFirst();
        if (!current) return undefined;
        const next = change(current.secrets as StoredSecret[]);
        const row = await trx
          .updateTable('inbound_sources')
          .set({ secrets: json(next), updated_at: new Date() })
          .where('key', '=', key)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toRecord(row);
      });
    },

    async remove(key: string): Promise<boolean> {
      const result = await db.deleteFrom('inbound_sources').where('key', '=', key).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}

export type InboundSourceStore = ReturnType<typeof createInboundSourceStore>;
