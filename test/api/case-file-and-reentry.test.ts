/**
 * Over HTTP, on real Postgres and Redis: a fragment that re-enters its own state, and the
 * template's case-file schema holding after events, task completions and timers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkers, type Workers } from '../../src/worker.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { silentLogger, startTestApp, uniqueId } from '../support/platform.js';

const prefixSuffix = `-${uniqueId('casefile')}`;
let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;
let workers: Workers | undefined;

beforeAll(async () => {
  t = await startTestApp({ prefixSuffix });
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
});
afterAll(async () => {
  await workers?.close();
  await t.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const byId = (view: CaseView, id: string) => view.fragments.find((f) => f.id === id)!;

async function socialCase(title: string) {
  return api.open(agent, { template: 'social-complaint', title });
}

async function addInline(caseId: string, definition: Record<string, unknown>) {
  const view = await api.addFragment(agent, caseId, { definition, reason: 'test' });
  return { view, fragment: view.fragments.find((f) => f.definition.startsWith('inline-'))! };
}

const CALL = {
  title: 'Call the customer',
  machine: {
    id: 'call',
    initial: 'calling',
    states: {
      calling: {
        tags: ['task'],
        meta: { task: { title: 'Call the customer', event: 'CALL_DONE' } },
        entry: [{ type: 'emit', params: { eventType: 'call.started' } }],
        after: { PT1H: 'gaveUp' },
        on: {
          NO_ANSWER: { target: 'calling', reenter: true },
          BUSY: 'calling',
          CALL_DONE: 'done',
        },
      },
      gaveUp: { type: 'final' },
      done: { type: 'final' },
    },
  },
};

describe('re-entry over HTTP', () => {
  it('POST /events with a self-transition: accepted as listed; reenter reopens the task and re-arms the timer', async () => {
    const c = await socialCase(uniqueId('reenter'));
    const { view, fragment } = await addInline(c.id, CALL);
    expect(fragment.accepted_events).toEqual(expect.arrayContaining(['NO_ANSWER', 'BUSY', 'CALL_DONE']));
    const task = taskOf(view, fragment.id, 'calling');
    const [timer] = (await rows.timers(c.id)).filter((r) => r.fragment_id === fragment.id);
    expect(timer).toMatchObject({ status: 'pending' });

    // Without reenter: taken, internal — same task, same timer.
    const busy = await api.event(agent, c.id, { type: 'BUSY', fragment_id: fragment.id });
    expect(busy.version).toBe(view.version + 1);
    expect(taskOf(busy, fragment.id, 'calling').id).toBe(task.id);

    // With reenter: a new task and a new timer, the old ones closed.
    const again = await api.event(agent, c.id, { type: 'NO_ANSWER', fragment_id: fragment.id });
    expect(again.version).toBe(view.version + 2);
    expect(byId(again, fragment.id).states).toEqual(['calling']);
    const reopened = taskOf(again, fragment.id, 'calling');
    expect(reopened.id).not.toBe(task.id);
    const tasks = await rows.tasks(c.id);
    expect(tasks.find((x) => x.id === task.id)?.status).toBe('cancelled');
    expect(tasks.find((x) => x.id === reopened.id)?.status).toBe('open');
    const timers = (await rows.timers(c.id)).filter((r) => r.fragment_id === fragment.id);
    expect(timers.map((r) => r.status)).toEqual(['cancelled', 'pending']);
    expect(timers[0]!.id).toBe(timer!.id);
    expect((await rows.outboxTypes(c.id)).filter((type) => type === 'call.started')).toHaveLength(2);
  });
});

describe('the case-file schema holds on every change', () => {
  it('an event writing survey.score = 99 (schema: maximum 5): 422 CASE_FILE_WRITE_INVALID naming the pointer and the action; nothing written', async () => {
    const c = await socialCase(uniqueId('survey'));
    const added = await api.addFragment(agent, c.id, { ref: 'follow-up-survey@1' });
    const survey = fragmentOf(added, 'follow-up-survey');
    const before = await rows.snapshot(c.id);
    const res = await api.call(agent, 'POST', `/v1/cases/${c.id}/events`, { type: 'SURVEY_ANSWERED', data: { score: 99, satisfied: true, comment: 'x' } });
    const problem = expectProblem(res, 422, 'CASE_FILE_WRITE_INVALID');
    expect(problem.errors).toEqual([
      {
        pointer: '/survey/score',
        in: 'case_file',
        detail: 'must be <= 5',
        written_by: [{ fragment_id: survey.id, definition: 'follow-up-survey@1', action: 'assignCaseFile', path: 'survey.score' }],
      },
    ]);
    expect(problem.detail).toContain('/survey/score must be <= 5');
    expect(await rows.snapshot(c.id)).toEqual(before);
    // Valid data goes through.
    const ok = await api.event(agent, c.id, { type: 'SURVEY_ANSWERED', data: { score: 5, satisfied: true, comment: 'thanks' } });
    expect(ok.case_file['survey']).toMatchObject({ score: 5, comment: 'thanks', status: 'answered' });
  });

  it('a task completion whose output a fragment maps into the case file: 422, the task stays open, nothing written', async () => {
    const c = await socialCase(uniqueId('task'));
    const { view, fragment } = await addInline(c.id, {
      title: 'Record the score',
      machine: {
        id: 'record',
        initial: 'asking',
        states: {
          asking: {
            tags: ['task'],
            meta: { task: { title: 'Ask for a score', event: 'SCORED' } },
            on: { SCORED: { target: 'done', actions: [{ type: 'assignCaseFile', params: { path: 'survey.score', fromEvent: 'data.score' } }] } },
          },
          done: { type: 'final' },
        },
      },
    });
    const task = taskOf(view, fragment.id, 'asking');
    const before = await rows.snapshot(c.id);
    const res = await api.call(agent, 'POST', `/v1/tasks/${task.id}/complete`, { output: { score: 'five' } });
    const problem = expectProblem(res, 422, 'CASE_FILE_WRITE_INVALID');
    expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/survey/score', in: 'case_file', detail: 'must be number' })]);
    expect(await rows.snapshot(c.id)).toEqual(before);
    expect((await rows.tasks(c.id)).find((x) => x.id === task.id)?.status).toBe('open');
  });

  it('a timer whose transition would break the schema fails alone: the row is settled, the case journals timer.failed, the fragment stays', async () => {
    workers = await startWorkers({ database: t.database, jobs: t.jobs, secrets: t.secrets, close: async () => {} }, t.core, silentLogger, { reconcileEveryMs: 600_000 });
    const c = await socialCase(uniqueId('timer'));
    const { fragment } = await addInline(c.id, {
      title: 'Default the score',
      machine: {
        id: 'defaulting',
        initial: 'waiting',
        states: {
          waiting: { after: { 200: 'defaulted' }, on: { ANSWERED: 'done' } },
          defaulted: { entry: [{ type: 'assignCaseFile', params: { path: 'survey.score', value: 0 } }], on: { ANSWERED: 'done' } },
          done: { type: 'final' },
        },
      },
    });
    const [armed] = (await rows.timers(c.id)).filter((r) => r.fragment_id === fragment.id);
    const deadline = Date.now() + 10_000;
    let status = armed?.status;
    while (status === 'pending' && Date.now() < deadline) {
      await sleep(50);
      status = (await rows.timers(c.id)).find((r) => r.id === armed!.id)?.status;
    }
    expect(status).toBe('fired');
    const view = await api.get(agent, c.id);
    expect(view.case_file['survey']).toBeUndefined();
    expect(byId(view, fragment.id).states).toEqual(['waiting']);
    expect(byId(view, fragment.id).status).toBe('active');
    const failed = (await api.timeline(agent, c.id)).filter((e) => e.type === 'timer.failed');
    expect(failed).toEqual([
      expect.objectContaining({
        actor: { id: 'timer', role: 'system' },
        data: expect.objectContaining({ timerId: armed!.id, code: 'CASE_FILE_WRITE_INVALID', errors: [expect.objectContaining({ pointer: '/survey/score' })] }),
      }),
    ]);
    // The fragment still takes its events.
    const answered = await api.event(agent, c.id, { type: 'ANSWERED', fragment_id: fragment.id });
    expect(byId(answered, fragment.id).status).toBe('done');
  });
});
