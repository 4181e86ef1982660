/**
 * Hostile CEL in an inline fragment, through the HTTP API: a guard that does quadratic work or
 * copies lists stops at its work budget (EXPRESSION_LIMITS.budget) — the case read lists the
 * event as not accepted, sending it answers 422 EXPRESSION_LIMIT naming the expression, nothing
 * changes — and GET /health, polled over a real socket, answers throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, type CaseView } from '../support/case-api.js';
import { watchHealth } from '../support/health-watch.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let api: ReturnType<typeof caseApi>;
let rows: ReturnType<typeof caseRows>;
let agent: Actor;

beforeAll(async () => {
  t = await startTestApp();
  api = caseApi(t);
  rows = caseRows(t);
  agent = await createActor(t.database.db, 'agent');
});
afterAll(() => t.close());

/** 20,000 numbers: the quadratic guard below took minutes on this list before the budget. */
const LONG = Array.from({ length: 20_000 }, (_, i) => i);

const post = (url: string, body: unknown) =>
  t.app.inject({ method: 'POST', url, headers: { ...agent.headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

async function caseWithGuard(expr: string): Promise<{ c: CaseView; fragmentId: string }> {
  const opened = await api.open(agent, { template: 'billing-dispute', title: `Hostile guard ${expr}`, case_file: { account: { id: 'acc-1' }, l: LONG } });
  const machine = {
    id: 'hostile',
    initial: 'idle',
    states: { idle: { on: { GO: { target: 'done', guard: { type: 'expr', params: { expr } } } } }, done: { type: 'final' } },
  };
  const res = await post(`/v1/cases/${opened.id}/fragments`, { definition: { title: 'Hostile', machine } });
  expect(res.statusCode, res.body).toBe(201);
  const c = res.json() as CaseView;
  return { c, fragmentId: c.fragments.find((f) => f.title === 'Hostile')!.id };
}

describe('a guard over its work budget', () => {
  it.each([
    ['quadratic membership', 'caseFile.l.all(x, x in caseFile.l)'],
    ['a map that copies the list per element', 'size(caseFile.l.map(x, caseFile.l + caseFile.l)) > 0'],
  ])('%s: not accepted when listing, 422 EXPRESSION_LIMIT when sent, nothing changes, /health answers throughout', async (_name, expr) => {
    const { c, fragmentId } = await caseWithGuard(expr);
    const before = await rows.snapshot(c.id);
    const health = await watchHealth(t.app);

    const started = performance.now();
    const read = await api.get(agent, c.id);
    expect(read.fragments.find((f) => f.id === fragmentId)!.accepted_events).toEqual([]);
    const res = await post(`/v1/cases/${c.id}/events`, { type: 'GO' });
    const elapsed = performance.now() - started;
    const problem = expectProblem(res, 422, 'EXPRESSION_LIMIT');
    expect(problem.detail).toContain(expr.slice(0, 30));
    expect(problem.detail).toContain("in transition for event 'GO' in state node 'hostile.idle'");
    expect(problem.fragment).toMatch(/^inline-/);

    const polled = await health.stop();
    expect(polled.failures).toBe(0);
    expect(polled.answers).toBeGreaterThan(0);
    // Generous for a loaded two-core machine; before the budget the read alone took minutes.
    expect(polled.slowestMs).toBeLessThan(3_000);
    expect(elapsed).toBeLessThan(10_000);
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('a comprehension over the same list within the budget still decides', async () => {
    const { c, fragmentId } = await caseWithGuard('caseFile.l.exists(x, x == 19999.0)');
    expect((await api.get(agent, c.id)).fragments.find((f) => f.id === fragmentId)!.accepted_events).toEqual(['GO']);
    const after = await api.event(agent, c.id, { type: 'GO' });
    expect(after.fragments.find((f) => f.id === fragmentId)!.status).not.toBe('active');
  });
});
