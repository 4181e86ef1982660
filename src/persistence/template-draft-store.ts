/**
 * Template drafts and runtime publishing (migration 0050). A publish writes the template and
 * its new fragments as `definitions` rows with source `published`, bumps `catalog_revision` and
 * marks the draft published, all in the caller's transaction; key@version is the primary key of
 * `definitions`, so a version is published once, whoever publishes it.
 */
import { sql, type Kysely } from 'kysely';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { canonicalHash } from '../templates/canonical-hash.js';
import type { DraftBody } from '../templates/capture-plan.js';
import type { CaseTemplate } from '../templates/types.js';
import type { Database } from './schema.js';

export interface DraftRecord {
  id: string;
  templateKey: string;
  baseVersion: number;
  fromCaseId: string | null;
  status: 'draft' | 'published' | 'discarded';
  revision: number;
  body: DraftBody;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  publishedVersion: number | null;
  publishedBy: string | null;
  publishedAt: string | null;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

function toRecord(row: Awaited<ReturnType<typeof selectDraft>>): DraftRecord | undefined {
  if (!row) return undefined;
  return {
    id: row.id,
    templateKey: row.template_key,
    baseVersion: row.base_version,
    fromCaseId: row.from_case_id,
    status: row.status,
    revision: row.revision,
    body: row.body as DraftBody,
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    publishedVersion: row.published_version,
    publishedBy: row.published_by,
    publishedAt: iso(row.published_at),
  };
}

function selectDraft(db: Kysely<Database>, id: string, lock: boolean) {
  const q = db.selectFrom('template_drafts').selectAll().where('id', '=', id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export async function findDraft(db: Kysely<Database>, id: string, options: { lock?: boolean } = {}): Promise<DraftRecord | undefined> {
  return toRecord(await selectDraft(db, id, options.lock ?? false));
}

export async function insertDraft(
  db: Kysely<Database>,
  draft: { id: string; templateKey: string; baseVersion: number; fromCaseId: string | null; body: DraftBody; createdBy: string },
): Promise<DraftRecord> {
  await db
    .insertInto('template_drafts')
    .values({
      id: draft.id,
      template_key: draft.templateKey,
      base_version: draft.baseVersion,
      from_case_id: draft.fromCaseId,
      status: 'draft',
      revision: 1,
      body: JSON.stringify(draft.body),
      created_by: draft.createdBy,
    })
    .execute();
  return (await findDraft(db, draft.id))!;
}

/** Replaces the body of a draft the caller locked; returns the new revision. */
export async function saveDraftBody(db: Kysely<Database>, id: string, body: DraftBody): Promise<number> {
  const row = await db
    .updateTable('template_drafts')
    .set({ body: JSON.stringify(body), revision: sql`revision + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning('revision')
    .executeTakeFirstOrThrow();
  return row.revision;
}

/** Marks a draft the caller locked as discarded (kept as the record of what was proposed). */
export async function discardDraftRow(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable('template_drafts').set({ status: 'discarded', revision: sql`revision + 1`, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function listDrafts(db: Kysely<Database>, templateKey: string, limit: number): Promise<DraftRecord[]> {
  const rows = await db.selectFrom('template_drafts').selectAll().where('template_key', '=', templateKey).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => toRecord(r)!);
}

/** Highest stored version of a template or fragment key, from any source (0: none). */
export async function latestStoredVersion(db: Kysely<Database>, kind: 'template' | 'fragment', key: string): Promise<number> {
  const row = await db.selectFrom('definitions').select((eb) => eb.fn.max('version').as('v')).where('kind', '=', kind).where('key', '=', key).executeTakeFirst();
  return row?.v ?? 0;
}

/** Stored library fragments of these keys (every version): for numbering and reusing promoted fragments. */
export async function storedFragmentsByKey(db: Kysely<Database>, keys: readonly string[]): Promise<FragmentDefinition[]> {
  if (keys.length === 0) return [];
  const rows = await db.selectFrom('definitions').select('body').where('kind', '=', 'fragment').where('key', 'in', [...new Set(keys)]).where('source', 'in', ['file', 'published']).execute();
  return rows.map((r) => r.body as FragmentDefinition);
}

/** Every stored version of one template, oldest first. */
export async function templateVersions(db: Kysely<Database>, key: string): Promise<{ version: number; source: string; hash: string; createdAt: string; body: CaseTemplate }[]> {
  const rows = await db.selectFrom('definitions').select(['version', 'source', 'hash', 'created_at', 'body']).where('kind', '=', 'template').where('key', '=', key).orderBy('version').execute();
  return rows.map((r) => ({ version: r.version, source: r.source, hash: r.hash, createdAt: iso(r.created_at as unknown as Date)!, body: r.body as CaseTemplate }));
}

/** A stored definition of any source (file, published, inline): what export reads. */
export async function storedDefinition(db: Kysely<Database>, kind: 'template' | 'fragment', key: string, version: number): Promise<unknown | undefined> {
  const row = await db.selectFrom('definitions').select('body').where('kind', '=', kind).where('key', '=', key).where('version', '=', version).executeTakeFirst();
  return row?.body;
}

export type PublishConflict = { kind: 'template' | 'fragment'; ref: FragmentRef };

/**
 * Writes the draft's fragments and template as published definitions, bumps the catalog
 * revision and marks the draft published, in the caller's transaction (the draft row is locked
 * by the caller). A fragment key@version already stored with the same content is fine (reused);
 * with other content, or a template version already stored, the conflicts come back and nothing
 * should be committed (the caller throws).
 */
export async function publishDraftRows(
  trx: Kysely<Database>,
  input: { draftId: string; body: DraftBody; by: string },
): Promise<{ conflicts: PublishConflict[]; revision: number }> {
  const conflicts: PublishConflict[] = [];
  const rows = [
    ...input.body.fragments.map((f) => ({ kind: 'fragment' as const, body: f as { key: string; version: number } })),
    { kind: 'template' as const, body: input.body.template as { key: string; version: number } },
  ];
  for (const r of rows) {
    const hash = canonicalHash(r.body);
    const inserted = await trx
      .insertInto('definitions')
      .values({ kind: r.kind, key: r.body.key, version: r.body.version, hash, source: 'published', body: JSON.stringify(r.body) })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted) continue;
    const stored = await trx.selectFrom('definitions').select('hash').where('kind', '=', r.kind).where('key', '=', r.body.key).where('version', '=', r.body.version).executeTakeFirst();
    if (r.kind === 'template' || stored?.hash !== hash) conflicts.push({ kind: r.kind, ref: `${r.body.key}@${r.body.version}` });
  }
  if (conflicts.length > 0) return { conflicts, revision: 0 };
  const bumped = await trx.updateTable('catalog_revision').set({ revision: sql`revision + 1`, updated_at: sql`now()` }).where('id', '=', 1).returning('revision').executeTakeFirstOrThrow();
  await trx
    .updateTable('template_drafts')
    .set({ status: 'published', published_version: input.body.template.version, published_by: input.by, published_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', input.draftId)
    .execute();
  return { conflicts, revision: Number(bumped.revision) };
}
