/**
 * Bad input on the case API: every refusal is a 4xx problem+json with a stable code, and
 * leaves the case row (version and state), the journal, the outbox, timers and tasks exactly
 * as they were.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, fragmentOf, taskOf, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;
let supervisor: Actor;
let c: CaseView;
let before: Awaited<ReturnType<ReturnType<typeof caseRows>['snapshot']>>;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
  supervisor = await createActor(t.database.db, 'supervisor');
});
afterAll(() => t.close());

beforeEach(async () => {
  c = await api.open(agent, { template: 'billing-dispute', title: 'Disputed charge', case_file: { account: { id: 'acc-1' } } });
  before = await rows.snapshot(c.id);
});

/** The refusal is problem+json with this status and code, and the case is untouched. */
async function expectRefused(res: LightMyRequestResponse, status: number, code: string) {
  const problem = expectProblem(res, status, code);
  expect(await rows.snapshot(c.id)).toEqual(before);
  return problem;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}, actor = agent) =>
  t.app.inject({ method: 'POST', url, headers: { ...actor.headers, 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

const inline = (machine: Record<string, unknown>) => ({ definition: { title: 'Inline', machine } });

/** Cases with this title (titles are unique per test; other files write to the same database). */
async function casesTitled(title: string) {
  return t.database.db.selectFrom('cases').select('id').where('title', '=', title).execute();
}

describe('request shape', () => {
  it('malformed JSON: 400 MALFORMED_JSON', async () => {
    await expectRefused(await post(`/v1/cases/${c.id}/events`, '{"type": "BILLING_RECORDS_RECEIVED",'), 400, 'MALFORMED_JSON');
  });

  it('an unknown field: 400 VALIDATION_FAILED naming it', async () => {
    const problem = await expectRefused(await post(`/v1/cases/${c.id}/events`, { type: 'BILLING_RECORDS_RECEIVED', version: 99 }), 400, 'VALIDATION_FAILED');
    expect(problem.errors).toContainEqual(expect.objectContaining({ pointer: '/version' }));
  });

  it('a huge payload: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await post(`/v1/cases/${c.id}/events`, { type: 'BILLING_RECORDS_RECEIVED', data: { records: 'x'.repeat(2_000_000) } });
    await expectRefused(res, 413, 'PAYLOAD_TOO_LARGE');
  });
});

describe('unknown things', () => {
  it('unknown template: 404 TEMPLATE_NOT_FOUND and no case opened', async () => {
    const title = `Unknown template ${c.id}`;
    const res = await post('/v1/cases', { template: 'no-such-template', title });
    await expectRefused(res, 404, 'TEMPLATE_NOT_FOUND');
    expect(await casesTitled(title)).toEqual([]);
  });

  it('unknown fragment ref: 422 FRAGMENT_NOT_DISCRETIONARY (also for a library fragment the template does not offer)', async () => {
    await expectRefused(await post(`/v1/cases/${c.id}/fragments`, { ref: 'no-such-fragment@1' }), 422, 'FRAGMENT_NOT_DISCRETIONARY');
    const problem = await expectRefused(await post(`/v1/cases/${c.id}/fragments`, { ref: 'replacement@1' }), 422, 'FRAGMENT_NOT_DISCRETIONARY');
    expect(problem.offered).toEqual(['refund-approval@1', 'credit-note@1', 'verify-identity@1']);
  });

  it('unknown state in a jump: 422 STATE_NOT_FOUND listing the states', async () => {
    const verify = fragmentOf(c, 'verify-identity');
    const problem = await expectRefused(
      await post(`/v1/cases/${c.id}/fragments/${verify.id}/adapt`, { action: 'jump', state: 'teleported', reason: 'try' }),
      422,
      'STATE_NOT_FOUND',
    );
    expect(problem.states).toEqual(expect.arrayContaining(['verifying', 'failed', 'verified', 'rejected']));
  });

  it('a migration mapping to a state the new version lacks: 422 STATE_NOT_FOUND', async () => {
    const notify = fragmentOf(c, 'notify-customer');
    const url = `/v1/cases/${c.id}/fragments/${notify.id}/adapt`;
    const problem = await expectRefused(
      await post(url, { action: 'migrate', to: 'notify-customer@2', state_mapping: { notifying: 'notifying' }, reason: 'v2' }),
      422,
      'STATE_NOT_FOUND',
    );
    expect(problem).toMatchObject({ state: 'notifying', definition: 'notify-customer@2', states: expect.arrayContaining(['drafting', 'reviewing']) });
    // Without a mapping the active state is kept, and v2 has no `notifying` either.
    await expectRefused(await post(url, { action: 'migrate', to: 'notify-customer@2', reason: 'v2' }), 422, 'STATE_NOT_FOUND');
    // A dry run is refused the same way.
    await expectRefused(await post(url, { action: 'migrate', to: 'notify-customer@2', state_mapping: { notifying: 'gone' }, reason: 'v2', dry_run: true }), 422, 'STATE_NOT_FOUND');
    // A version that does not exist.
    await expectRefused(await post(url, { action: 'migrate', to: 'notify-customer@9', state_mapping: { notifying: 'drafting' }, reason: 'v9' }), 422, 'DEFINITION_NOT_FOUND');
  });

  it('an event no fragment accepts: 409 EVENT_NOT_ACCEPTED listing the accepted events', async () => {
    const problem = await expectRefused(await post(`/v1/cases/${c.id}/events`, { type: 'REFUND_ISSUED', data: { transactionId: 't' } }), 409, 'EVENT_NOT_ACCEPTED');
    // The same list GET /v1/cases/:id shows (the identity task's event is accepted too).
    expect(problem.accepted_events).toEqual(['BILLING_RECORDS_RECEIVED', 'IDENTITY_CHECKED']);
    expect(problem.accepted_events).toEqual(c.accepted_events);
  });

  it('internal XState events cannot be sent from outside', async () => {
    await expectRefused(await post(`/v1/cases/${c.id}/events`, { type: 'xstate.after.14400000.investigate-charge.requestingRecords' }), 409, 'EVENT_NOT_ACCEPTED');
  });
});

describe('invalid inline definitions', () => {
  it('a cycle of unguarded always transitions: 422 INVALID_DEFINITION', async () => {
    const problem = await expectRefused(
      await post(`/v1/cases/${c.id}/fragments`, inline({ id: 'loop', initial: 'a', states: { a: { always: 'b' }, b: { always: 'a' } } })),
      422,
      'INVALID_DEFINITION',
    );
    expect(JSON.stringify(problem.problems)).toContain('loop forever');
  });

  it('10,000 states: 422 INVALID_DEFINITION', async () => {
    const states: Record<string, unknown> = {};
    for (let i = 0; i < 10_000; i++) states[`s${i}`] = { on: { NEXT: `s${(i + 1) % 10_000}` } };
    const problem = await expectRefused(await post(`/v1/cases/${c.id}/fragments`, inline({ id: 'big', initial: 's0', states })), 422, 'INVALID_DEFINITION');
    expect(problem.detail).toContain('more than 200 states');
  });

  it('a definition over 256 KB (under the body limit): 422 INVALID_DEFINITION', async () => {
    const machine = { id: 'fat', initial: 'a', states: { a: { description: 'x'.repeat(400_000), type: 'final' } } };
    await expectRefused(await post(`/v1/cases/${c.id}/fragments`, inline(machine)), 422, 'INVALID_DEFINITION');
  });

  it.each([
    ['caseFile.constructor', 'caseFile.constructor == null'],
    ['__proto__', "caseFile.__proto__ == null"],
    ['__proto__ by index', "caseFile['__proto__'] == null"],
    ['process', "process.env.HOME == ''"],
    ['constructor of a string', "'a'.constructor == null"],
  ])('a guard reaching %s: 422 INVALID_DEFINITION', async (_name, expr) => {
    const machine = {
      id: 'sneaky',
      initial: 'a',
      states: { a: { on: { GO: { guard: { type: 'expr', params: { expr } }, target: 'b' } } }, b: { type: 'final' } },
    };
    await expectRefused(await post(`/v1/cases/${c.id}/fragments`, inline(machine)), 422, 'INVALID_DEFINITION');
  });

  it.each([
    ['constructor', 'caseFile.constructor == null'],
    ['__proto__', "caseFile['__proto__'] == null"],
    ['process', "process.env.HOME == ''"],
  ])('a goal condition reaching %s: 422 INVALID_EXPRESSION', async (_name, condition) => {
    const res = await post(`/v1/cases/${c.id}/goals`, { key: 'sneaky', title: 'Sneaky', condition }, {}, supervisor);
    await expectRefused(res, 422, 'INVALID_EXPRESSION');
  });
});

describe('tasks', () => {
  it('completing a completed task again: 409 TASK_NOT_OPEN, no second effect', async () => {
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    await api.complete(agent, task.id, { method: 'one_time_code', passed: true });
    before = await rows.snapshot(c.id);
    await expectRefused(await post(`/v1/tasks/${task.id}/complete`, { output: { method: 'one_time_code', passed: true } }), 409, 'TASK_NOT_OPEN');
  });

  it('output that does not match the form: 422 INVALID_TASK_OUTPUT naming the fields', async () => {
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    const problem = await expectRefused(
      await post(`/v1/tasks/${task.id}/complete`, { output: { method: 'carrier_pigeon', passed: 'yes', extra: 1 } }),
      422,
      'INVALID_TASK_OUTPUT',
    );
    expect(problem.errors.length).toBeGreaterThanOrEqual(3);
    expect((await api.get(agent, c.id)).tasks.find((x) => x.id === task.id)?.status).toBe('open');
  });

  it("a task's event sent to /events is checked against the task's form: 422 INVALID_TASK_OUTPUT", async () => {
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    const problem = await expectRefused(
      await post(`/v1/cases/${c.id}/events`, { type: 'IDENTITY_CHECKED', data: { method: 'carrier_pigeon', passed: true } }),
      422,
      'INVALID_TASK_OUTPUT',
    );
    expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/method' })]);
    expect((await api.get(agent, c.id)).tasks.find((x) => x.id === task.id)?.status).toBe('open');
    // Valid data completes the task (not cancelled), as /complete would.
    api.expectStatus(await post(`/v1/cases/${c.id}/events`, { type: 'IDENTITY_CHECKED', data: { method: 'one_time_code', passed: true } }), 200);
    expect((await rows.tasks(c.id)).find((x) => x.id === task.id)?.status).toBe('completed');
  });

  it('an unknown task: 404 TASK_NOT_FOUND', async () => {
    await expectRefused(await post('/v1/tasks/no-such-task/complete', { output: {} }), 404, 'TASK_NOT_FOUND');
  });
});

describe('idempotency and concurrency', () => {
  const records = { type: 'BILLING_RECORDS_RECEIVED', data: { records: [{ id: 'ch_1' }] } };

  it('the same Idempotency-Key with the same body: the first answer again, idempotent-replayed, no second effect', async () => {
    const key = `idem-${c.id}`;
    const first = await post(`/v1/cases/${c.id}/events`, records, { 'idempotency-key': key });
    expect(first.statusCode).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const afterFirst = await rows.snapshot(c.id);
    expect(afterFirst.version).toBe(before.version! + 1);

    const second = await post(`/v1/cases/${c.id}/events`, records, { 'idempotency-key': key });
    expect(second.statusCode).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(second.headers['etag']).toBe(first.headers['etag']);
    expect(await rows.snapshot(c.id)).toEqual(afterFirst);
  });

  it('opening a case twice with one Idempotency-Key opens one case', async () => {
    const key = `open-${c.id}`;
    const body = { template: 'billing-dispute', title: `Opened once ${c.id}` };
    const first = await post('/v1/cases', body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    const second = await post('/v1/cases', body, { 'idempotency-key': key });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json().id).toBe(first.json().id);
    expect(second.headers['location']).toBe(first.headers['location']);
    expect(await casesTitled(body.title)).toEqual([{ id: first.json().id }]);
    expect((await rows.journal(first.json().id)).every((e) => e.version === 1)).toBe(true);
    expect((await rows.outboxTypes(first.json().id)).filter((type) => type === 'case.opened')).toHaveLength(1);
  });

  it('the same Idempotency-Key with a different body: 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const key = `idem2-${c.id}`;
    await api.expectStatus(await post(`/v1/cases/${c.id}/events`, records, { 'idempotency-key': key }), 200);
    before = await rows.snapshot(c.id);
    const problem = await expectRefused(
      await post(`/v1/cases/${c.id}/content`, { kind: 'note', data: { text: 'hi' } }, { 'idempotency-key': key }),
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(problem.detail).toContain('new key');
    await expectRefused(
      await post(`/v1/cases/${c.id}/events`, { ...records, data: { records: [] } }, { 'idempotency-key': key }),
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
  });

  it('a stale If-Match: 412 VERSION_MISMATCH with the current version; the current one succeeds', async () => {
    const problem = await expectRefused(await post(`/v1/cases/${c.id}/events`, records, { 'if-match': `"v${before.version! - 1 || 99}"` }), 412, 'VERSION_MISMATCH');
    expect(problem.current_version).toBe(before.version);
    const ok = await post(`/v1/cases/${c.id}/events`, records, { 'if-match': `"v${before.version}"` });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['etag']).toBe(`"v${before.version! + 1}"`);
  });

  it('If-Match on a task command is checked too', async () => {
    const task = taskOf(c, fragmentOf(c, 'verify-identity').id, 'verifying');
    await expectRefused(
      await post(`/v1/tasks/${task.id}/complete`, { output: { method: 'one_time_code', passed: true } }, { 'if-match': '"v99"' }),
      412,
      'VERSION_MISMATCH',
    );
  });

  it('a refused command with an Idempotency-Key stores nothing: the key is still free', async () => {
    const key = `idem3-${c.id}`;
    await expectRefused(await post(`/v1/cases/${c.id}/events`, { type: 'REFUND_ISSUED' }, { 'idempotency-key': key }), 409, 'EVENT_NOT_ACCEPTED');
    const stored = await t.database.db.selectFrom('idempotency_keys').select('key').where('key', '=', key).execute();
    expect(stored).toEqual([]);
    api.expectStatus(await post(`/v1/cases/${c.id}/events`, records, { 'idempotency-key': key }), 200);
  });
});
