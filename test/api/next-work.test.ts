/**
 * Get next work and supervisor push on real Postgres: the best task the caller may take (role,
 * team, skills, free capacity, presence), in the documented order, atomically under concurrency;
 * a supervisor pushes within capacity or overrides it with a journaled reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, type TaskView } from '../support/case-api.js';
import { updateWorker } from '../support/people.js';
import { startTestApp, uniqueId } from '../support/platform.js';
import { openCaseWithTasks, type TaskShape } from '../support/work-fixtures.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

async function agent(teams: string[], profile: Parameters<typeof updateWorker>[2] = {}): Promise<Actor> {
  const a = await createActor(t.database.db, 'agent', uniqueId('agent'), teams);
  await updateWorker(t.database.db, a.userId, { presence: 'available', ...profile });
  return a;
}

async function next(actor: Actor) {
  const res = await api.call(actor, 'POST', '/v1/tasks/next');
  return api.expectStatus(res, 200).json() as { task: TaskView | null; reason: string | null; case_version: number | null; handoff_brief: unknown };
}

const db = () => t.database.db;

describe('POST /v1/tasks/next', () => {
  it('8 agents pulling concurrently from 1,000 tasks never get the same task and never exceed capacity', async () => {
    const team = uniqueId('crowd');
    // 100 cases x 10 tasks: skills s0..s2 at levels 1..3, efforts 1..2, kinds default / call.
    const shapes: TaskShape[] = Array.from({ length: 10 }, (_, i) => ({
      title: `T${i}`,
      queue: team,
      skills: { [`s${i % 3}`]: (i % 3) + 1 },
      effort: (i % 2) + 1,
      ...(i % 4 === 0 ? { kind: 'call' } : {}),
    }));
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 10 }, () => openCaseWithTasks(api, supervisor, shapes)));
    }
    const agents = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        agent([team], { skills: { s0: 3, s1: i % 2 === 0 ? 2 : 1, s2: i % 4 === 0 ? 3 : 1 }, capacity: { default: 30 + i, call: 6 } }),
      ),
    );
    const got = new Map<string, string[]>();
    await Promise.all(
      agents.map(async (a) => {
        const mine: string[] = [];
        for (;;) {
          const answer = await next(a);
          if (!answer.task) {
            expect(answer.reason).toBe('no_matching_task');
            break;
          }
          expect(answer.task).toMatchObject({ assignee_id: a.userId, claimed_by: a.userId, work_queue: team });
          mine.push(answer.task.id);
        }
        got.set(a.userId, mine);
      }),
    );
    const all = [...got.values()].flat();
    expect(all.length).toBeGreaterThan(100);
    expect(new Set(all).size).toBe(all.length);

    // From the rows: each assigned task has one assignee, one task.assigned journal entry, and
    // every agent's units per bucket stay within capacity; skills and role were met.
    const assigned = await db()
      .selectFrom('tasks')
      .select(['id', 'assignee_id', 'kind', 'effort', 'skills', 'case_id'])
      .where('work_queue', '=', team)
      .where('assignee_id', 'is not', null)
      .execute();
    expect(assigned.map((r) => r.id).sort()).toEqual([...all].sort());
    for (const a of agents) {
      const user = await db().selectFrom('users').select(['skills', 'capacity']).where('id', '=', a.userId).executeTakeFirstOrThrow();
      const capacity = user.capacity as Record<string, number>;
      const skills = user.skills as Record<string, number>;
      const used: Record<string, number> = {};
      for (const r of assigned.filter((x) => x.assignee_id === a.userId)) {
        const bucket = r.kind in capacity ? r.kind : 'default';
        used[bucket] = (used[bucket] ?? 0) + r.effort;
        for (const [skill, level] of Object.entries(r.skills as Record<string, number>)) expect(skills[skill] ?? 0).toBeGreaterThanOrEqual(level);
      }
      for (const [bucket, units] of Object.entries(used)) expect(units, `${a.userId} ${bucket}`).toBeLessThanOrEqual(capacity[bucket]!);
      // Capacity was the limit: the agent's default bucket is (nearly) full.
      expect(used['default'] ?? 0).toBeGreaterThan(capacity['default']! - 2);
    }
    const entries = await db()
      .selectFrom('journal')
      .select(['data'])
      .where('type', '=', 'task.assigned')
      .where('case_id', 'in', [...new Set(assigned.map((r) => r.case_id))])
      .execute();
    const journaled = entries.map((e) => (e.data as { taskId: string }).taskId);
    expect(journaled.sort()).toEqual([...all].sort());
    // Each task.assigned row in the outbox matches one assignment too.
    const events = await db().selectFrom('outbox').select(['data']).where('type', '=', 'task.assigned')
      .where('case_id', 'in', [...new Set(assigned.map((r) => r.case_id))]).execute();
    const pulled = events.filter((e) => (e.data as { via?: string }).via === 'next').map((e) => (e.data as { taskId: string }).taskId);
    expect(pulled.sort()).toEqual([...all].sort());
  }, 240_000);

  it('an away agent gets nothing, and nothing is written', async () => {
    const team = uniqueId('away');
    const c = await openCaseWithTasks(api, supervisor, [{ title: 'Call back', queue: team }]);
    const away = await agent([team], { presence: 'away' });
    const before = await rows.snapshot(c.id);
    expect(await next(away)).toEqual({ task: null, reason: 'presence_away', case_version: null, handoff_brief: null });
    await updateWorker(db(), away.userId, { presence: 'offline' });
    expect((await next(away)).reason).toBe('presence_offline');
    expect(await rows.snapshot(c.id)).toEqual(before);
    await updateWorker(db(), away.userId, { presence: 'available' });
    expect((await next(away)).task?.title).toBe('Call back');
  });

  it('hands out by priority, then time to breach, then age, then id', async () => {
    const team = uniqueId('order');
    const low = await openCaseWithTasks(api, supervisor, [{ title: 'low', queue: team }], { priority: 'low' });
    // With no customer and no posts the priority score reads "normal", which lifts a case opened
    // "low" (the opening priority is a floor); a supervisor's override is what holds it low.
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${low.id}/priority`, { priority: 'low', reason: 'routine' }), 200);
    const normalOld = await openCaseWithTasks(api, supervisor, [{ title: 'normal-old', queue: team }], { priority: 'normal' });
    const normalNew = await openCaseWithTasks(api, supervisor, [{ title: 'normal-new', queue: team }], { priority: 'normal' });
    const urgent = await openCaseWithTasks(api, supervisor, [{ title: 'urgent', queue: team }], { priority: 'urgent' });
    const high = await openCaseWithTasks(api, supervisor, [{ title: 'high', queue: team }], { priority: 'high' });
    // normal-new's goals get the soonest deadline: time to breach beats age within a priority.
    const goal = normalNew.goals.find((g) => g.deadline_at !== null)!;
    await api.patchGoal(supervisor, normalNew.id, goal.key, { deadline_at: new Date(Date.now() + 60_000).toISOString(), reason: 'customer called' });
    const a = await agent([team], { capacity: { default: 10 } });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push((await next(a)).task!.title);
    expect(order).toEqual(['urgent', 'high', 'normal-new', 'normal-old', 'low']);
    expect((await next(a)).task).toBeNull();
    void low; void normalOld; void urgent; void high;
  });

  it('matches role, team and skills: a supervisor task, another team, a missing skill are left alone', async () => {
    const team = uniqueId('match');
    await openCaseWithTasks(api, supervisor, [
      { title: 'approve', queue: team, role: 'supervisor' },
      { title: 'expert', queue: team, skills: { tax: 4 } },
      { title: 'plain', queue: team, skills: { tax: 2 } },
    ]);
    await openCaseWithTasks(api, supervisor, [{ title: 'elsewhere', queue: `${team}-other` }]);
    const a = await agent([team], { skills: { tax: 3 } });
    expect((await next(a)).task?.title).toBe('plain');
    expect(await next(a)).toMatchObject({ task: null, reason: 'no_matching_task' });
    const boss = await createActor(db(), 'supervisor', uniqueId('boss'), [team]);
    await updateWorker(db(), boss.userId, { presence: 'available', skills: { tax: 5 } });
    const titles = [(await next(boss)).task?.title, (await next(boss)).task?.title].sort();
    expect(titles).toEqual(['approve', 'expert']);
  });

  it('a user with no room gets nothing; an integrator may not ask', async () => {
    const team = uniqueId('full');
    await openCaseWithTasks(api, supervisor, [{ title: 'big', queue: team, effort: 3 }]);
    const a = await agent([team], { capacity: { default: 2 } });
    expect(await next(a)).toMatchObject({ task: null, reason: 'no_matching_task' });
    const integrator = await createActor(db(), 'integrator');
    expectProblem(await api.call(integrator, 'POST', '/v1/tasks/next'), 403, 'FORBIDDEN');
  });
});

describe('POST /v1/tasks/:id/assign (supervisor push)', () => {
  it('within capacity: assigned, journaled with the capacity it used', async () => {
    const team = uniqueId('push');
    const c = await openCaseWithTasks(api, supervisor, [{ title: 'one', queue: team, effort: 2 }]);
    const a = await agent([team], { capacity: { default: 2 } });
    const task = c.tasks.find((x) => x.title === 'one')!;
    const res = api.expectStatus(await api.call(supervisor, 'POST', `/v1/tasks/${task.id}/assign`, { user_id: a.userId }), 200).json();
    expect(res.task).toMatchObject({ id: task.id, assignee_id: a.userId, claimed_by: null });
    const entry = (await rows.journal(c.id)).find((e) => e.type === 'task.assigned')!;
    expect(entry).toMatchObject({ actor_id: supervisor.userId, data: { taskId: task.id, via: 'push', to: { userId: a.userId }, capacity: { kind: 'default', used: 0, limit: 2, effort: 2 } } });
    expect(entry.data).not.toHaveProperty('capacityOverride');
  });

  it('over capacity: 409 CAPACITY_EXCEEDED and nothing changes; with override_capacity.reason it is assigned and the reason journaled', async () => {
    const team = uniqueId('over');
    const c = await openCaseWithTasks(api, supervisor, [{ title: 'a', queue: team }, { title: 'b', queue: team }]);
    const a = await agent([team], { capacity: { default: 1 } });
    const [first, second] = ['a', 'b'].map((title) => c.tasks.find((x) => x.title === title)!);
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/tasks/${first!.id}/assign`, { user_id: a.userId }), 200);
    const before = await rows.snapshot(c.id);
    const problem = expectProblem(await api.call(supervisor, 'POST', `/v1/tasks/${second!.id}/assign`, { user_id: a.userId }), 409, 'CAPACITY_EXCEEDED');
    expect(problem).toMatchObject({ user_id: a.userId, kind: 'default', used: 1, limit: 1, effort: 1 });
    expect(problem.detail).toContain('override_capacity.reason');
    expect(await rows.snapshot(c.id)).toEqual(before);

    const body = { user_id: a.userId, override_capacity: { reason: 'only she speaks Finnish' } };
    api.expectStatus(await api.call(supervisor, 'POST', `/v1/tasks/${second!.id}/assign`, body), 200);
    const entry = (await rows.journal(c.id)).filter((e) => e.type === 'task.assigned').at(-1)!;
    expect(entry).toMatchObject({ reason: 'only she speaks Finnish', data: { taskId: second!.id, capacityOverride: { reason: 'only she speaks Finnish' } } });
  });

  it('refuses a person whose role does not fit, and one who is away; agents may not push', async () => {
    const team = uniqueId('push-role');
    const c = await openCaseWithTasks(api, supervisor, [{ title: 'approve', queue: team, role: 'supervisor' }, { title: 'work', queue: team }]);
    const a = await agent([team]);
    const away = await agent([team], { presence: 'away' });
    const before = await rows.snapshot(c.id);
    const approve = c.tasks.find((x) => x.title === 'approve')!;
    const work = c.tasks.find((x) => x.title === 'work')!;
    expectProblem(await api.call(supervisor, 'POST', `/v1/tasks/${approve.id}/assign`, { user_id: a.userId }), 403, 'TASK_ROLE_REQUIRED');
    expectProblem(await api.call(supervisor, 'POST', `/v1/tasks/${work.id}/assign`, { user_id: away.userId }), 409, 'USER_NOT_AVAILABLE');
    expectProblem(await api.call(supervisor, 'POST', `/v1/tasks/${work.id}/assign`, { user_id: 'nobody-here' }), 404, 'USER_NOT_FOUND');
    expectProblem(await api.call(a, 'POST', `/v1/tasks/${work.id}/assign`, { user_id: a.userId }), 403, 'FORBIDDEN');
    expect(await rows.snapshot(c.id)).toEqual(before);
  });
});
