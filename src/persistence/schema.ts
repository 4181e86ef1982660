/**
 * Database row types (Kysely). Rows stay at the persistence edge: HTTP has its own schemas and
 * the engine works on `CaseState`. jsonb columns are written as JSON strings (pg would turn
 * JS arrays into Postgres array literals).
 */
import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;

export interface ApiKeyTable {
  id: string;
  /** First characters of the key, shown in listings so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole key; keys are 32 random bytes, so a fast hash is enough. */
  key_hash: string;
  role: string;
  user_id: string;
  name: string;
  created_at: Generated<Timestamp>;
  revoked_at: Timestamp | null;
}

export interface Database {
  api_keys: ApiKeyTable;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
export type { Json, Timestamp };
