/**
 * Paging caps on every list route: `limit` above 100 (or below 1, or not a number) is a 400
 * naming `limit`; a cursor the API did not hand out is a 400 naming `cursor`; a real
 * next_cursor walks the list without repeats. The list routes come from the app's route table
 * (every route with a `limit` query parameter), so a new list route is checked too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_SIZE } from '../../src/http/paging.js';
import { MAX_TIMELINE_PAGE_SIZE } from '../../src/http/schemas.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let supervisor: Actor;
let admin: Actor;
let c: CaseView;

beforeAll(async () => {
  t = await startTestApp();
  supervisor = await createActor(t.database.db, 'supervisor');
  admin = await createActor(t.database.db, 'admin');
  const api = caseApi(t);
  c = await api.open(supervisor, { template: 'billing-dispute', title: 'Paging', case_file: { account: { id: 'acc-p' } } });
  for (const text of ['one', 'two', 'three']) await api.addContent(supervisor, c.id, { kind: 'note', data: { text } });
});
afterAll(() => t.close());

/**
 * A concrete url for each list route (and who may list it: a supervisor unless `admin`); a list
 * route missing here fails the first test.
 */
const LISTS: Record<string, { url: () => string; admin?: true; max?: number }> = {
  '/v1/alerts/reach': { url: () => '/v1/alerts/reach' },
  '/v1/cases': { url: () => '/v1/cases' },
  '/v1/tasks': { url: () => '/v1/tasks' },
  // The case screen reads a whole timeline in one request: its pages go up to 500.
  '/v1/cases/:id/timeline': { url: () => `/v1/cases/${c.id}/timeline`, max: MAX_TIMELINE_PAGE_SIZE },
  '/v1/cases/:id/content': { url: () => `/v1/cases/${c.id}/content` },
  '/v1/goals': { url: () => '/v1/goals' },
  '/v1/goals/due': { url: () => '/v1/goals/due?within_hours=24' },
  '/v1/inbox': { url: () => '/v1/inbox' },
  '/v1/users': { url: () => '/v1/users' },
  '/v1/users/:id/journal': { url: () => `/v1/users/${supervisor.userId}/journal` },
  '/v1/customers': { url: () => '/v1/customers' },
  // Webhook subscriptions and deliveries are for admins and integrators.
  '/v1/webhook-subscriptions': { url: () => '/v1/webhook-subscriptions', admin: true },
  '/v1/webhook-deliveries': { url: () => '/v1/webhook-deliveries', admin: true },
};

const get = (url: string, as: Actor = supervisor) => t.app.inject({ method: 'GET', url, headers: as.headers });
const withQuery = (url: string, query: string) => `${url}${url.includes('?') ? '&' : '?'}${query}`;

describe('list routes', () => {
  it('every route with a limit parameter is listed here', () => {
    const lists = t.app.routeTable
      .filter((r) => r.method === 'GET' && Object.keys((r.schema?.querystring as { properties?: object } | undefined)?.properties ?? {}).includes('limit'))
      .map((r) => r.url)
      .sort();
    expect(lists).toEqual(Object.keys(LISTS).sort());
  });

  for (const [route, list] of Object.entries(LISTS)) {
    const max = list.max ?? MAX_PAGE_SIZE;
    it(`${route}: limit is 1..${max}, a foreign cursor is refused, each naming the parameter`, async () => {
      const url = list.url;
      const as = list.admin ? admin : supervisor;
      expect((await get(withQuery(url(), `limit=${max}`), as)).statusCode).toBe(200);
      for (const limit of [String(max + 1), '0', '10000', 'ten']) {
        const problem = expectProblem(await get(withQuery(url(), `limit=${limit}`), as), 400, 'VALIDATION_FAILED');
        expect(problem.errors, `limit=${limit}`).toContainEqual(expect.objectContaining({ pointer: '/limit', in: 'querystring' }));
        expect(problem.detail).toContain('/limit');
      }
      const foreign = Buffer.from(JSON.stringify({ nope: 1 })).toString('base64url');
      for (const cursor of ['not-a-cursor!', foreign, '%00']) {
        const problem = expectProblem(await get(withQuery(url(), `cursor=${cursor}`), as), 400, 'VALIDATION_FAILED');
        expect(problem.errors, `cursor=${cursor}`).toContainEqual(expect.objectContaining({ pointer: '/cursor', in: 'querystring' }));
        expect(problem.detail).toContain('cursor');
      }
    });
  }

  it('next_cursor walks a list one item at a time without repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { data: { text: string } }[]; next_cursor: string | null } = (
        await get(`/v1/cases/${c.id}/content?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      ).json();
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items.map((i) => i.data.text));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['one', 'two', 'three']);
  });
});
