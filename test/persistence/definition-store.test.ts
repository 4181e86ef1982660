import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/platform/database.js';
import { loadStoredDefinitions, publishDefinitions } from '../../src/persistence/definition-store.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import type { CaseTemplate } from '../../src/templates/types.js';
import { openTestDatabase, TEMPLATES_DIR, uniqueId } from '../support/platform.js';

let database: DatabaseHandle;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

describe('publishing definitions', () => {
  it('stores new versions, keeps the stored copy of a changed one, and reports it', async () => {
    const { templates } = await loadCatalog(TEMPLATES_DIR);
    const base = { ...templates.find((t) => t.key === 'billing-dispute')!, key: uniqueId('tpl') } as CaseTemplate;
    expect(await publishDefinitions(database.db, { templates: [base], fragments: [] })).toEqual([]);

    const edited = { ...base, title: 'Edited without a version bump' };
    const next = { ...base, version: 2, title: 'Version two' };
    const problems = await publishDefinitions(database.db, { templates: [edited, next], fragments: [] });
    expect(problems).toEqual([
      expect.objectContaining({ code: 'VERSION_CHANGED', message: expect.stringContaining(`template ${base.key}@1 differs from the stored version`) }),
    ]);

    const stored = (await loadStoredDefinitions(database.db)).templates.filter((t) => t.key === base.key);
    expect(stored.map((t) => [t.version, t.title]).sort()).toEqual([
      [1, base.title],
      [2, 'Version two'],
    ]);
  });
});
