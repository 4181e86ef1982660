/**
 * Approvals hold: a task's role is enforced on claim and complete, the event a task owns can
 * only arrive by completing that task (or from its holder / a supervisor through the events
 * route), and fragment reassignment is for the case owner, the fragment's assignee or a
 * supervisor. Every refusal leaves case, journal, tasks and outbox as they were.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, type CaseView, type TaskView } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
const TEAM = uniqueId('approvals');
let owner: Actor;
let teammate: Actor;
let supervisor: Actor;
let integrator: Actor;
let c: CaseView;
let approval: TaskView;
let prepare: TaskView;
let before: Awaited<ReturnType<ReturnType<typeof caseRows>['snapshot']>>;

/** Two parallel steps: an agent prepares, a supervisor approves. */
const machine = {
  id: 'approve-refund',
  initial: 'work',
  states: { work: { type: 'parallel', states: {
    prep: {
      initial: 'preparing',
      states: {
        preparing: {
          tags: ['task'],
          meta: { task: { title: 'Prepare the refund', role: 'agent', queue: TEAM, event: 'PREPARED' } },
          on: { PREPARED: 'prepared' },
        },
        prepared: { type: 'final' },
      },
    },
    approval: {
      initial: 'awaiting',
      states: {
        awaiting: {
          tags: ['task'],
          meta: {
            task: {
              title: 'Approve the refund',
              role: 'supervisor',
              queue: TEAM,
              event: 'APPROVED',
              kind: 'approval',
              form: { type: 'object', properties: { ok: { type: 'boolean' } }, additionalProperties: false },
            },
          },
          on: { APPROVED: 'approved' },
        },
        approved: { type: 'final' },
      },
    },
  } } },
};

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  owner = await createActor(t.database.db, 'agent', uniqueId('owner'), [TEAM]);
  teammate = await createActor(t.database.db, 'agent', uniqueId('mate'), [TEAM]);
  supervisor = await createActor(t.database.db, 'supervisor');
  integrator = await createActor(t.database.db, 'integrator');
});
afterAll(() => t.close());

beforeEach(async () => {
  const opened = await api.open(owner, { template: 'billing-dispute', title: 'Refund', owner_id: owner.userId, case_file: { account: { id: 'acc-a' } } });
  c = await api.addFragment(owner, opened.id, { definition: { title: 'Approve refund', machine } });
  approval = c.tasks.find((x) => x.title === 'Approve the refund')!;
  prepare = c.tasks.find((x) => x.title === 'Prepare the refund')!;
  expect(approval).toMatchObject({ role: 'supervisor', queue: TEAM, kind: 'approval', effort: 1 });
  before = await rows.snapshot(c.id);
});

async function expectRefused(res: LightMyRequestResponse, status: number, code: string) {
  const problem = expectProblem(res, status, code);
  expect(await rows.snapshot(c.id)).toEqual(before);
  return problem;
}

describe('a supervisor task', () => {
  it('an agent cannot claim it: 403 naming the role, nothing changes', async () => {
    for (const agent of [owner, teammate]) {
      const problem = await expectRefused(await api.call(agent, 'POST', `/v1/tasks/${approval.id}/claim`), 403, 'TASK_ROLE_REQUIRED');
      expect(problem.detail).toContain('supervisor');
      expect(problem).toMatchObject({ task_id: approval.id, required_role: 'supervisor' });
    }
  });

  it('an agent cannot complete it, not even the case owner: 403, nothing changes', async () => {
    for (const agent of [owner, teammate]) {
      await expectRefused(await api.call(agent, 'POST', `/v1/tasks/${approval.id}/complete`, { output: { ok: true } }), 403, 'TASK_ROLE_REQUIRED');
    }
  });

  it("an integrator's POST /events with the task's event is refused with the task to complete instead", async () => {
    const problem = await expectRefused(await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, { type: 'APPROVED', data: { ok: true } }), 409, 'TASK_OWNS_EVENT');
    expect(problem).toMatchObject({ task_id: approval.id, event: 'APPROVED', required_role: 'supervisor' });
    expect(problem.detail).toContain(`/v1/tasks/${approval.id}/complete`);
  });

  it('the case owner sending the event through /events is refused too', async () => {
    await expectRefused(await api.call(owner, 'POST', `/v1/cases/${c.id}/events`, { type: 'APPROVED', data: { ok: true } }), 409, 'TASK_OWNS_EVENT');
  });

  it('a supervisor completes it — through the task, or by sending its event — and the journal says who', async () => {
    const done = api.expectStatus(await api.call(supervisor, 'POST', `/v1/cases/${c.id}/events`, { type: 'APPROVED', data: { ok: true } }), 200).json();
    expect(done.tasks.map((x: TaskView) => x.id)).not.toContain(approval.id);
    const completed = (await rows.journal(c.id)).filter((e) => e.type === 'task.completed');
    expect(completed).toEqual([expect.objectContaining({ actor_id: supervisor.userId, actor_role: 'supervisor', data: expect.objectContaining({ taskId: approval.id }) })]);
    const task = await t.database.db.selectFrom('tasks').select(['status', 'body']).where('id', '=', approval.id).executeTakeFirstOrThrow();
    expect(task.status).toBe('completed');
    expect(task.body).toMatchObject({ completedBy: supervisor.userId });
  });

  it('a supervisor claims and completes it through the task routes', async () => {
    await api.claim(supervisor, approval.id);
    await api.complete(supervisor, approval.id, { ok: true });
    expect((await api.get(supervisor, c.id)).tasks.map((x) => x.id)).not.toContain(approval.id);
  });
});

describe("an agent task's event through /events", () => {
  it('is refused for a teammate who does not hold the task (claim and complete it instead)', async () => {
    const problem = await expectRefused(await api.call(teammate, 'POST', `/v1/cases/${c.id}/events`, { type: 'PREPARED' }), 409, 'TASK_OWNS_EVENT');
    expect(problem.task_id).toBe(prepare.id);
  });

  it('is accepted from the agent who claimed the task, and from the case owner', async () => {
    await api.claim(teammate, prepare.id);
    const after = api.expectStatus(await api.call(teammate, 'POST', `/v1/cases/${c.id}/events`, { type: 'PREPARED' }), 200).json();
    expect(after.tasks.map((x: TaskView) => x.id)).not.toContain(prepare.id);
  });

  it('is accepted from the case owner', async () => {
    api.expectStatus(await api.call(owner, 'POST', `/v1/cases/${c.id}/events`, { type: 'PREPARED' }), 200);
  });

  it('is refused for an integrator even on an agent task', async () => {
    await expectRefused(await api.call(integrator, 'POST', `/v1/cases/${c.id}/events`, { type: 'PREPARED' }), 409, 'TASK_OWNS_EVENT');
  });
});

describe('fragment reassign', () => {
  it('a teammate who may see the case is refused (403); the owner and a supervisor may', async () => {
    const fragmentId = approval.fragment_id;
    const body = { action: 'reassign', assignment: { queue: `${TEAM}-2` }, reason: 'move it' };
    await expectRefused(await api.call(teammate, 'POST', `/v1/cases/${c.id}/fragments/${fragmentId}/adapt`, body), 403, 'FORBIDDEN');
    await api.adapt(owner, c.id, fragmentId, body);
    await api.adapt(supervisor, c.id, fragmentId, { ...body, assignment: { queue: TEAM } });
  });
});
