/**
 * The demo as a user meets it: `npm start`'s server on an empty embedded data directory seeds an
 * agent and a supervisor whose generated passwords are in the log, and five cases from the
 * shipped templates, one at risk; both accounts sign in; a second start seeds nothing again;
 * TESSERA_DEMO=false seeds nothing at all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../support/process.js';

const dirs: string[] = [];
const freshDir = async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-demo-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function demoLine(server: RunningServer): string | undefined {
  for (const line of server.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as { msg?: string };
    if (parsed.msg?.startsWith('Demo seeded')) return parsed.msg;
  }
  return undefined;
}

async function signIn(baseUrl: string, username: string, password: string) {
  const res = await fetch(`${baseUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseUrl },
    body: JSON.stringify({ username, password }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return { cookie: String(res.headers.get('set-cookie')).split(';')[0]!, body: (await res.json()) as { user: { id: string; role: string } } };
}

async function getJson(baseUrl: string, url: string, cookie: string) {
  const res = await fetch(`${baseUrl}${url}`, { headers: { cookie } });
  expect(res.status, url).toBe(200);
  return res.json() as Promise<any>;
}

describe('demo seed (embedded mode)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await freshDir();
  });

  it('seeds accounts (sign-in in the log) and cases in different states, one at risk; a second start seeds nothing', { timeout: 400_000 }, async () => {
    const env = { TESSERA_DATA_DIR: dataDir };
    const first = await startServer(env);
    let agent: { username: string; password: string };
    let supervisor: { username: string; password: string };
    try {
      const line = demoLine(first);
      expect(line, first.output()).toBeDefined();
      const m = /agent "([^"]+)" with password "([^"]+)", supervisor "([^"]+)" with password "([^"]+)"/.exec(line!)!;
      expect(m).not.toBeNull();
      agent = { username: m[1]!, password: m[2]! };
      supervisor = { username: m[3]!, password: m[4]! };
      expect(agent.password).toHaveLength(20);
      expect(agent.password).not.toBe(supervisor.password);

      const sup = await signIn(first.baseUrl, supervisor.username, supervisor.password);
      expect(sup.body.user.role).toBe('supervisor');
      const cases = (await getJson(first.baseUrl, '/v1/cases?limit=50', sup.cookie)).items as { title: string; template: { key: string }; owner_id: string | null; priority: { value: string } }[];
      expect(cases).toHaveLength(5);
      expect(new Set(cases.map((c) => c.template.key))).toEqual(new Set(['social-complaint', 'billing-dispute', 'product-repair', 'callback-request']));
      // Different states: the viral post raised its case, the agent owns one, one is at risk.
      expect(cases.find((c) => c.template.key === 'social-complaint')!.priority.value).toBe('high');
      expect(cases.some((c) => c.owner_id === agent.username)).toBe(true);
      const tiles = await getJson(first.baseUrl, '/v1/goals/summary', sup.cookie);
      expect(tiles.at_risk).toBeGreaterThanOrEqual(1);
      const atRisk = await getJson(first.baseUrl, '/v1/goals?sla=at_risk', sup.cookie);
      expect(atRisk.items.map((g: { goal_key: string }) => g.goal_key)).toContain('rma_issued');
      const alerts = await getJson(first.baseUrl, '/v1/alerts/reach', sup.cookie);
      expect(alerts.items).toHaveLength(1);

      const ag = await signIn(first.baseUrl, agent.username, agent.password);
      expect(ag.body.user.role).toBe('agent');
      const mine = (await getJson(first.baseUrl, '/v1/cases?limit=50', ag.cookie)).items;
      expect(mine.length).toBeGreaterThan(0);
      // The UI is served at / for them to open.
      const home = await fetch(`${first.baseUrl}/`);
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toContain('text/html');
    } finally {
      expect((await first.stop('SIGTERM')).code).toBe(0);
    }

    const second = await startServer(env);
    try {
      expect(demoLine(second)).toBeUndefined();
      const sup = await signIn(second.baseUrl, supervisor.username, supervisor.password);
      expect((await getJson(second.baseUrl, '/v1/cases?limit=50', sup.cookie)).items).toHaveLength(5);
      expect((await getJson(second.baseUrl, '/v1/users?limit=50', sup.cookie)).items).toHaveLength(2);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
  });

  it('TESSERA_DEMO=false starts empty', { timeout: 300_000 }, async () => {
    const adminKey = 'demo-test-admin-key-0123456789';
    const server = await startServer({ TESSERA_DATA_DIR: await freshDir(), TESSERA_DEMO: 'false', TESSERA_ADMIN_KEY: adminKey });
    try {
      expect(demoLine(server)).toBeUndefined();
      const users = await fetch(`${server.baseUrl}/v1/users`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(((await users.json()) as { items: unknown[] }).items).toEqual([]);
      const cases = await fetch(`${server.baseUrl}/v1/cases`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(((await cases.json()) as { items: unknown[] }).items).toEqual([]);
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
