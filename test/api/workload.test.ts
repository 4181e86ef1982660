/** GET /v1/workload against a known setup: per person and per queue. */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem } from '../support/case-api.js';
import { updateWorker } from '../support/people.js';
import { startTestApp, uniqueId } from '../support/platform.js';
import { openCaseWithTasks } from '../support/work-fixtures.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let supervisor: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

describe('GET /v1/workload', () => {
  it('counts open tasks, units of capacity, oldest age and tasks at risk per person, and backlog per queue', async () => {
    const q1 = uniqueId('wl-a');
    const q2 = uniqueId('wl-b');
    const c1 = await openCaseWithTasks(api, supervisor, [
      { title: 'a1', queue: q1, effort: 2 },
      { title: 'a2', queue: q1, kind: 'call' },
      { title: 'a3', queue: q1 },
    ]);
    await openCaseWithTasks(api, supervisor, [{ title: 'b1', queue: q2 }, { title: 'b2', queue: q2 }]);
    const ada = await createActor(t.database.db, 'agent', uniqueId('ada'), [q1, q2]);
    await updateWorker(t.database.db, ada.userId, { presence: 'available', capacity: { default: 5, call: 2 } });
    const bob = await createActor(t.database.db, 'agent', uniqueId('bob'), [q2]);
    await updateWorker(t.database.db, bob.userId, { presence: 'away' });
    const task = (title: string) => c1.tasks.find((x) => x.title === title)!;
    for (const title of ['a1', 'a2']) api.expectStatus(await api.call(supervisor, 'POST', `/v1/tasks/${task(title).id}/assign`, { user_id: ada.userId }), 200);
    // Make a1 an hour old and put c1's goals at risk, straight in the rows the view reads.
    await sql`update tasks set opened_at = opened_at - interval '1 hour' where id = ${task('a1').id}`.execute(t.database.db);
    await sql`update tasks set sla = 'at_risk' where case_id = ${c1.id}`.execute(t.database.db);

    const res = api.expectStatus(await api.call(supervisor, 'GET', '/v1/workload'), 200).json();
    const adaLoad = res.agents.find((a: any) => a.user_id === ada.userId);
    expect(adaLoad).toMatchObject({
      presence: 'available',
      open_tasks: 2,
      units: { default: { used: 2, capacity: 5 }, call: { used: 1, capacity: 2 } },
      units_used: 3,
      units_capacity: 7,
      tasks_at_risk: 2,
      tasks_breached: 0,
    });
    expect(adaLoad.oldest_task_age_seconds).toBeGreaterThanOrEqual(3600);
    expect(adaLoad.oldest_task_age_seconds).toBeLessThan(3700);
    expect(res.agents.find((a: any) => a.user_id === bob.userId)).toMatchObject({ presence: 'away', open_tasks: 0, units_used: 0, tasks_at_risk: 0 });

    const queue = (name: string) => res.queues.find((x: any) => x.queue === name);
    expect(queue(q1)).toMatchObject({ backlog: 3, unassigned: 1, tasks_at_risk: 3, agents_available: 1 });
    expect(queue(q1).oldest_task_age_seconds).toBeGreaterThanOrEqual(3600);
    expect(queue(q1).oldest_unassigned_age_seconds).toBeLessThan(600);
    expect(queue(q2)).toMatchObject({ backlog: 2, unassigned: 2, tasks_at_risk: 0, agents_available: 1 });
  });

  it('is for supervisors and admins', async () => {
    const agent = await createActor(t.database.db, 'agent');
    expectProblem(await api.call(agent, 'GET', '/v1/workload'), 403, 'FORBIDDEN');
    expectProblem(await api.call(await createActor(t.database.db, 'integrator'), 'GET', '/v1/workload'), 403, 'FORBIDDEN');
  });
});
