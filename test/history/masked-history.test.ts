/**
 * Erasure masks personal data in the command records (and the journal); plan-as-of still
 * rebuilds the case from the masked values, and a masked value the engine would now refuse ends
 * the fold at that version — reported, not thrown.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planView } from '../../src/cases/plan-view.js';
import type { CaseState } from '../../src/cases/types.js';
import { reconstructCase } from '../../src/history/reconstruct-plan.js';
import { withJournalErasure } from '../../src/persistence/journal-erasure.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, fragmentOf, taskOf } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

describe('history after erasure', () => {
  it('masked names and texts replay into a masked case with the same plan; a masked value the engine refuses stops the fold there', async () => {
    const c = await api.open(supervisor, {
      template: 'billing-dispute',
      title: 'Dispute',
      customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
      case_file: { account: { id: 'acc-1' }, charge: { id: 'ch-1', amount: 50 } },
    });
    await api.addContent(supervisor, c.id, { kind: 'note', data: { text: 'Ada called from +44 20 7946 0000' } });
    await api.complete(supervisor, taskOf(c, fragmentOf(c, 'verify-identity').id).id, { method: 'one_time_code', passed: true });
    const live = (await t.database.db.selectFrom('cases').select('state').where('id', '=', c.id).executeTakeFirstOrThrow()).state as CaseState;
    expect(live.version).toBe(3);

    await withJournalErasure(t.database.db, async (trx) => {
      await sql`update journal_commands set record = jsonb_set(jsonb_set(record, '{command,input,customer,name}', '"[erased]"'), '{command,input,customer,email}', '"[erased]"')
        where case_id = ${c.id} and version = 1`.execute(trx);
      await sql`update journal_commands set record = jsonb_set(record, '{command,data,text}', '"[erased]"') where case_id = ${c.id} and version = 2`.execute(trx);
    });
    const rebuilt = await reconstructCase(t.database.db, t.core, c.id, { version: 3 });
    expect(rebuilt).toMatchObject({ complete: true });
    expect(rebuilt!.state.customer).toMatchObject({ name: '[erased]', email: '[erased]' });
    expect(JSON.stringify(rebuilt!.state)).not.toContain('Ada');
    expect(planView(rebuilt!.state)).toEqual(planView(live));

    // An output masked into something the task form refuses: the fold stops before version 3.
    await withJournalErasure(t.database.db, async (trx) => {
      await sql`update journal_commands set record = jsonb_set(record, '{command,output,method}', '"[erased]"') where case_id = ${c.id} and version = 3`.execute(trx);
    });
    const partial = await reconstructCase(t.database.db, t.core, c.id, { version: 3 });
    expect(partial).toMatchObject({ complete: false, diverged: { version: 3 } });
    expect(partial!.state.version).toBe(2);
    const res = api.expectStatus(await api.call(supervisor, 'GET', `/v1/cases/${c.id}/plan?at=3`), 200).json();
    expect(res).toMatchObject({ complete: false, diverged: { version: 3 }, plan: { version: 2 } });
  });
});
