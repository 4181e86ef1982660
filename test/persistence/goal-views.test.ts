/**
 * The goal views projection stays exact: after every command its rows equal what `cases.state`
 * says (goalViewRows), a command that changes no projected field does not rewrite them, a
 * rolled-back command leaves them as they were, and the migration's backfill writes the same rows.
 */
import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backfillGoalViews } from '../../migrations/0003_goal_views.js';
import type { CaseState } from '../../src/cases/types.js';
import { createCommandRunner } from '../../src/commands/run-command.js';
import { loadCaseForUpdate, saveDecision } from '../../src/persistence/case-store.js';
import { goalViewRows, goalViewsChanged, type GoalViewRow } from '../../src/persistence/goal-views.js';
import { COMMITS_MARK, PREPARED_MARK } from '../../src/persistence/prepared-statement.js';
import type { Database } from '../../src/persistence/schema.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

const T0 = Date.parse('2031-06-02T08:00:00.000Z');
const HOUR = 3_600_000;
let clock = T0;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(clock), prefixSuffix: `-${uniqueId('goal-views')}` });
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

const iso = (v: unknown) => (v === null ? null : new Date(v as string).toISOString());

async function projected(caseId: string): Promise<GoalViewRow[]> {
  const rows = await t.database.db.selectFrom('goal_views').selectAll().where('case_id', '=', caseId).orderBy('goal_key').execute();
  return rows.map((r) => ({
    ...r,
    deadline_at: iso(r.deadline_at),
    at_risk_at: iso(r.at_risk_at),
    breached_at: iso(r.breached_at),
    achieved_at: iso(r.achieved_at),
    opened_at: iso(r.opened_at)!,
    updated_at: iso(r.updated_at)!,
  }));
}

async function stateOf(caseId: string): Promise<CaseState> {
  const row = await t.database.db.selectFrom('cases').select('state').where('id', '=', caseId).executeTakeFirstOrThrow();
  return row.state as CaseState;
}

const byKey = (rows: GoalViewRow[]) => [...rows].sort((a, b) => (a.goal_key < b.goal_key ? -1 : 1));
/** `updated_at` is when the projection last changed, so it is compared on its own. */
const withoutUpdatedAt = (rows: GoalViewRow[]) => byKey(rows).map(({ updated_at: _, ...rest }) => rest);

/** The projection says what the aggregate says. */
async function expectConsistent(caseId: string) {
  const rows = await projected(caseId);
  const state = await stateOf(caseId);
  expect(withoutUpdatedAt(rows)).toEqual(withoutUpdatedAt(goalViewRows(state)));
  expect(rows).toHaveLength(state.goals.length);
  return rows;
}

async function firePoint(caseId: string, goalKey: string, type: string) {
  const timers = await caseRows(t).timers(caseId);
  const timer = timers.find((r) => r.goal_key === goalKey && r.status === 'pending' && (r.event as { type: string }).type === type)!;
  const [fired] = await t.core.runner.fireTimers([{ timerId: timer.id, caseId }]);
  expect(fired!.outcome).toBe('applied');
}

describe('goal views projection', () => {
  it('equals cases.state after every command, and is not rewritten when nothing it shows changed', async () => {
    clock = T0;
    const queue = uniqueId('q');
    const c = await api.open(supervisor, { template: 'billing-dispute', title: 'Double charge', queue, owner_id: 'ada' });
    const opened = await expectConsistent(c.id);
    expect(opened.map((r) => [r.goal_key, r.status, r.sla, r.case_status, r.queue, r.owner_id])).toEqual([
      ['customer_notified', 'open', 'on_track', 'open', queue, 'ada'],
      ['decision_made', 'open', 'on_track', 'open', queue, 'ada'],
      ['identity_verified', 'open', 'on_track', 'open', queue, 'ada'],
    ]);

    clock += HOUR;
    await api.addGoal(supervisor, c.id, { key: 'callback', title: 'Call back', condition: "case.ownerId == 'bob'", required: false, deadline_at: new Date(T0 + 2 * HOUR).toISOString() });
    await expectConsistent(c.id);

    clock += HOUR;
    await api.patchGoal(supervisor, c.id, 'decision_made', { deadline_at: new Date(T0 + 30 * HOUR).toISOString(), reason: 'customer asked' });
    await expectConsistent(c.id);

    clock = T0 + 3 * HOUR;
    await firePoint(c.id, 'identity_verified', 'tessera.goal.warning');
    expect((await expectConsistent(c.id)).find((r) => r.goal_key === 'identity_verified')).toMatchObject({ sla: 'at_risk', at_risk_at: new Date(clock).toISOString() });

    // A note changes no projected field: no goal row is written (updated_at stays).
    const before = await projected(c.id);
    clock += HOUR;
    await api.addContent(supervisor, c.id, { kind: 'note', data: { text: 'customer called' } });
    expect(await projected(c.id)).toEqual(before);
    expect((await stateOf(c.id)).updatedAt).toBe(new Date(clock).toISOString());

    clock += HOUR;
    await api.reassign(supervisor, c.id, { owner_id: 'bob', reason: 'bob knows the customer' });
    const reassigned = await expectConsistent(c.id);
    expect(reassigned.find((r) => r.goal_key === 'callback')).toMatchObject({ status: 'achieved', achieved_late: true, sla: 'breached' });
    expect(reassigned.every((r) => r.owner_id === 'bob' && r.updated_at === new Date(clock).toISOString())).toBe(true);

    clock += HOUR;
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/hold`, { reason: 'waiting for invoice' }), 200);
    expect((await expectConsistent(c.id)).every((r) => r.case_status === 'on_hold')).toBe(true);
    clock += 2 * HOUR;
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/resume`, {}), 200);
    await expectConsistent(c.id);

    // A refused command changes nothing.
    const beforeRefusal = await projected(c.id);
    expectProblem(await api.call(supervisor, 'PATCH', `/v1/cases/${c.id}/goals/nope`, { deadline_at: null, reason: 'x' }), 404, 'GOAL_NOT_FOUND');
    expect(await projected(c.id)).toEqual(beforeRefusal);

    clock += HOUR;
    await api.close(supervisor, c.id, { status: 'cancelled', reason: 'customer withdrew' });
    expect((await expectConsistent(c.id)).every((r) => r.case_status === 'cancelled')).toBe(true);
  });

  it('a rolled-back command leaves the projection as it was', async () => {
    clock = T0;
    const c = await api.open(supervisor, { template: 'product-repair', title: 'Broken blender', queue: uniqueId('q') });
    const before = await projected(c.id);
    const movedTo = new Date(T0 + 5 * HOUR).toISOString();

    const crash = new Error('crash before commit');
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        const previous = (await loadCaseForUpdate(trx, c.id))!.state;
        const template = t.core.catalog.template(previous.template.key, previous.template.version)!;
        const decision = t.core.engine.decide(previous, { type: 'goal.update', goalKey: 'rma_issued', deadlineAt: movedTo, reason: 'test' }, {
          now: new Date(clock),
          actor: { id: 'sup', role: 'supervisor' },
          newId: randomUUID,
          template,
          definitions: (ref) => t.core.catalog.fragment(ref),
        });
        if (!decision.ok) throw new Error(decision.error.message);
        expect(goalViewsChanged(previous, decision.case)).toBe(true);
        await saveDecision(trx, { previousVersion: previous.version, previous, next: decision.case, effects: decision.effects, journal: decision.journal });
        // Inside the transaction the projection has moved with the case...
        const inside = await trx.selectFrom('goal_views').select('deadline_at').where('case_id', '=', c.id).where('goal_key', '=', 'rma_issued').executeTakeFirstOrThrow();
        expect(iso(inside.deadline_at)).toBe(movedTo);
        throw crash;
      }),
    ).rejects.toBe(crash);

    // ...and after the rollback neither moved.
    expect(await projected(c.id)).toEqual(before);
    expect((await stateOf(c.id)).version).toBe(c.version);
    await expectConsistent(c.id);
  });

  it("the migration's backfill writes the same rows as the command transaction", async () => {
    clock = T0;
    const c = await api.open(supervisor, { template: 'social-complaint', title: 'Viral post', queue: uniqueId('q') });
    clock += 45 * 60_000;
    await firePoint(c.id, 'public_reply', 'tessera.goal.warning');
    clock += 20 * 60_000;
    await firePoint(c.id, 'public_reply', 'tessera.goal.breach');
    const live = await expectConsistent(c.id);
    expect(live.find((r) => r.goal_key === 'public_reply')).toMatchObject({ sla: 'breached', priority: 'urgent', queue: 'social-care-leads', owner_id: null });

    await t.database.db.deleteFrom('goal_views').where('case_id', '=', c.id).execute();
    await backfillGoalViews(t.database.db, c.id);
    expect(byKey(await projected(c.id))).toEqual(byKey(goalViewRows(await stateOf(c.id))));
    expect(withoutUpdatedAt(await projected(c.id))).toEqual(withoutUpdatedAt(live));
  });

  it('costs no extra round trip: the goal rows ride in the one write statement, and only when they changed', async () => {
    const statements: string[] = [];
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 }) }),
      log: (event) => {
        // begin and commit are logged too; the round trips that carry work are what is counted.
        if (event.level === 'query' && !/^(begin|commit)\b/i.test(event.query.sql.trim())) statements.push(event.query.sql);
      },
    });
    try {
      const runner = createCommandRunner({ db, engine: t.core.engine, catalog: t.core.catalog, now: () => new Date(clock) });
      const run = (caseId: string | undefined, command: Parameters<typeof runner.run>[0]['command']) =>
        runner.run({
          ...(caseId ? { caseId } : { template: { key: 'billing-dispute' } }),
          command,
          actor: { id: 'sup', role: 'supervisor' },
          respond: ({ case: c }) => ({ statusCode: 200, body: { id: c.id } }),
        });
      const writes = () => statements.filter((q) => q.replace(PREPARED_MARK, '').replace(COMMITS_MARK, '').trimStart().startsWith('with'));

      clock = T0;
      const opened = await run(undefined, { type: 'case.open', input: { title: 'Counted', queue: uniqueId('q') } });
      const caseId = (opened.body as { id: string }).id;
      expect(statements).toHaveLength(1);
      expect(writes()[0]).toContain('goal_view_rows');

      statements.length = 0;
      await run(caseId, { type: 'goal.update', goalKey: 'decision_made', deadlineAt: new Date(T0 + 10 * HOUR).toISOString(), reason: 'moved' });
      expect(statements).toHaveLength(2); // lock + load, then one write
      expect(statements[0]).toContain('for update');
      expect(writes()).toHaveLength(1);
      expect(writes()[0]).toContain('goal_view_rows');

      statements.length = 0;
      await run(caseId, { type: 'content.add', kind: 'note', data: { text: 'no goal changes' } });
      expect(statements).toHaveLength(2);
      expect(writes()).toHaveLength(1);
      expect(writes()[0]).not.toContain('goal_views');
      await expectConsistent(caseId);
    } finally {
      await db.destroy();
    }
  });
});
