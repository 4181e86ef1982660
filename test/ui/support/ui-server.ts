/**
 * A Tessera server for a browser test: the real app (UI included) on the run's Postgres and
 * Redis, listening on a loopback port, plus people who sign in with a password. The test owns
 * the command clock when it passes `now`, and fires timers through the command runner as the
 * timer job does (`fireTimer`), so nothing waits on wall-clock time.
 */
import { expect } from 'vitest';
import type { Role } from '../../../src/cases/types.js';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../../support/platform.js';

export const PASSWORD = 'correct horse battery staple';

export type UiServer = Awaited<ReturnType<typeof startUiServer>>;

export interface Person {
  id: string;
  username: string;
  password: string;
  role: Role;
  teams: string[];
  /** Bearer header of an API key of the same user, for setting up data through the API. */
  headers: { authorization: string };
}

export async function startUiServer(options: Parameters<typeof startTestApp>[0] = {}) {
  // A private BullMQ prefix: no worker of another test file fires this file's timers.
  const t = await startTestApp({ prefixSuffix: `-${uniqueId('ui')}`, ...options });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  /** Calls the API as the bootstrap admin (or with `headers`) and returns the parsed body; fails on an unexpected status. */
  async function api<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = bearer(ADMIN_KEY), expected?: number): Promise<T> {
    const res = await t.app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) });
    if (expected !== undefined) expect(res.statusCode, res.body).toBe(expected);
    else expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return (res.body ? res.json() : undefined) as T;
  }

  /**
   * A user with a password (signs in from the browser) and an API key of the same user (for
   * the test's own setup calls). Agents get presence `available` and room for work.
   */
  async function createPerson(role: Role, options: { teams?: string[]; displayName?: string; username?: string; capacity?: Record<string, number>; skills?: Record<string, number> } = {}): Promise<Person> {
    const username = options.username ?? uniqueId(role);
    const teams = options.teams ?? [];
    const user = await api<{ id: string }>('POST', '/v1/users', {
      username,
      display_name: options.displayName ?? `Test ${role} ${username}`,
      role,
      password: PASSWORD,
      ...(teams.length ? { teams } : {}),
      ...(options.capacity ? { capacity: options.capacity } : {}),
      ...(options.skills ? { skills: options.skills } : {}),
      ...(role === 'agent' || role === 'supervisor' ? { presence: 'available' } : {}),
    }, bearer(ADMIN_KEY), 201);
    const key = await api<{ key: string }>('POST', '/v1/api-keys', { role, user_id: user.id, name: `ui test ${username}`, ...(teams.length ? { teams } : {}) }, bearer(ADMIN_KEY), 201);
    return { id: user.id, username, password: PASSWORD, role, teams, headers: bearer(key.key) };
  }

  /** Fires the pending SLA point (`warning` | `breach`) of a goal of a case, as the timer job would. */
  async function fireSlaPoint(caseId: string, goalKey: string, point: 'warning' | 'breach'): Promise<void> {
    const type = point === 'warning' ? 'tessera.goal.warning' : 'tessera.goal.breach';
    const rows = await t.database.db.selectFrom('timers').selectAll().where('case_id', '=', caseId).where('status', '=', 'pending').execute();
    const timer = rows.find((r) => r.goal_key === goalKey && (r.event as { type: string }).type === type);
    expect(timer, `pending ${point} timer of ${caseId}/${goalKey}`).toBeDefined();
    const [fired] = await t.core.runner.fireTimers([{ timerId: timer!.id, caseId }]);
    expect(fired!.outcome).toBe('applied');
  }

  return { ...t, baseUrl, api, createPerson, fireSlaPoint };
}
