/**
 * Reads what a replay folds (cases/replay.ts) from the journal: every version's command record
 * (`journal_commands`), and the journal entries of the versions no command made (a customer
 * merge). Also resolves the definitions a replay needs that this process has not loaded (inline
 * and checklist fragments authored in other processes), from the `definitions` table.
 */
import { sql, type Kysely } from 'kysely';
import type { CommandRecord } from '../cases/command-record.js';
import type { ReplayResolver, ReplayStep } from '../cases/replay.js';
import type { Catalog } from '../commands/catalog.js';
import type { FragmentDefinition, FragmentRef } from '../fragments/types.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import type { Database } from '../persistence/schema.js';

/** Journal types that change a case without a command (see cases/replay.ts). */
const JOURNAL_ONLY_TYPES = ['customer.merged'];

/** The replay steps of several cases, by case id, each sorted by version (up to `untilVersion`). */
export async function loadReplaySteps(
  db: Kysely<Database>,
  caseIds: readonly string[],
  untilVersion?: number,
): Promise<Map<string, ReplayStep[]>> {
  const byCase = new Map<string, ReplayStep[]>(caseIds.map((id) => [id, []]));
  if (caseIds.length === 0) return byCase;
  let commands = db
    .selectFrom('journal_commands')
    .select(['case_id', 'version', 'record'])
    .where(sql<boolean>`case_id = any(${[...caseIds]}::text[])`);
  if (untilVersion !== undefined) commands = commands.where('version', '<=', untilVersion);
  let journal = db
    .selectFrom('journal')
    .select(['case_id', 'version', 'type', 'actor_id', 'actor_role', 'reason', 'data', 'at'])
    .where(sql<boolean>`case_id = any(${[...caseIds]}::text[])`)
    .where('type', 'in', JOURNAL_ONLY_TYPES);
  if (untilVersion !== undefined) journal = journal.where('version', '<=', untilVersion);
  const [commandRows, journalRows] = await Promise.all([commands.execute(), journal.execute()]);
  for (const row of commandRows) byCase.get(row.case_id)?.push({ version: row.version, kind: 'command', record: row.record as CommandRecord });
  for (const row of journalRows) {
    byCase.get(row.case_id)?.push({
      version: row.version,
      kind: 'journal',
      entry: {
        type: row.type,
        actor: { id: row.actor_id, role: row.actor_role as never },
        ...(row.reason !== null ? { reason: row.reason } : {}),
        data: row.data as Record<string, unknown>,
        at: new Date(row.at).toISOString(),
      },
    });
  }
  for (const steps of byCase.values()) steps.sort((a, b) => a.version - b.version);
  return byCase;
}

/** The fragment refs a set of steps names (library adds, migration targets, escalations' fragments via the template). */
function refsOf(steps: readonly ReplayStep[]): FragmentRef[] {
  const refs = new Set<FragmentRef>();
  for (const s of steps) {
    if (s.kind !== 'command') continue;
    const c = s.record.command;
    if (c.type === 'fragment.add' && c.source.kind === 'library') refs.add(c.source.ref);
    if (c.type === 'fragment.migrate') refs.add(c.to);
  }
  return [...refs];
}

/**
 * A resolver for replaying `steps`: templates and library fragments from the catalog, the rest
 * (named by the steps or by `alsoRefs`, e.g. the live case's fragments) loaded once from the database.
 */
export async function replayResolver(
  db: Kysely<Database>,
  catalog: Catalog,
  steps: readonly ReplayStep[],
  alsoRefs: readonly FragmentRef[] = [],
): Promise<ReplayResolver> {
  const missing = [...new Set([...refsOf(steps), ...alsoRefs])].filter((ref) => !catalog.fragment(ref));
  const loaded = new Map<FragmentRef, FragmentDefinition>();
  for (const d of await loadFragmentDefinitions(db, missing)) loaded.set(`${d.key}@${d.version}`, d);
  return {
    template: (key, version) => catalog.template(key, version),
    fragment: (ref) => catalog.fragment(ref) ?? loaded.get(ref),
  };
}
