/**
 * What the API says on the wire: every field of every request and answer in the OpenAPI
 * document is snake_case; statuses are enums; answers (migrate results, problem details) use
 * snake_case too; and adding content answers the new item's id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, expectProblem, fragmentOf } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let openapi: any;

beforeAll(async () => {
  t = await startTestApp();
  agent = await createActor(t.database.db, 'agent');
  openapi = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => t.close());

/** Every property name in a schema, with where it was found. */
function propertyNames(schema: unknown, at: string, out: [string, string][] = []): [string, string][] {
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => propertyNames(s, `${at}/${i}`, out));
  } else if (schema && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v && typeof v === 'object') {
        for (const [name, sub] of Object.entries(v)) {
          out.push([name, `${at}/properties/${name}`]);
          propertyNames(sub, `${at}/properties/${name}`, out);
        }
      } else if (k !== 'examples' && k !== 'example' && k !== 'default' && k !== 'enum' && k !== 'const') propertyNames(v, `${at}/${k}`, out);
    }
  }
  return out;
}

const CAMEL = /[a-z][A-Z]/;

describe('the OpenAPI document', () => {
  it('names every request and answer field, parameter and header in snake_case', () => {
    const found: [string, string][] = [];
    for (const [path, item] of Object.entries<any>(openapi.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) if (p.in !== 'header') found.push([p.name, `${where} parameter`]);
        propertyNames(op.requestBody, `${where} request`, found);
        propertyNames(op.responses, `${where} responses`, found);
      }
    }
    propertyNames(openapi.components?.schemas, 'components', found);
    expect(found.length).toBeGreaterThan(100);
    expect(found.filter(([name]) => CAMEL.test(name)).map(([name, where]) => `${name} at ${where}`)).toEqual([]);
  });

  it('describes fragment, task, goal and case statuses as enums', () => {
    const fragment = openapi.paths['/v1/cases/{id}'].get.responses['200'].content['application/json'].schema.properties.fragments.items;
    expect(fragment.properties.status.enum).toEqual(['active', 'done', 'cancelled']);
    const view = openapi.paths['/v1/cases/{id}'].get.responses['200'].content['application/json'].schema;
    expect(view.properties.status.enum).toEqual(['open', 'on_hold', 'resolved', 'closed', 'cancelled']);
    expect(view.properties.tasks.items.properties.status.enum).toEqual(['open', 'completed', 'cancelled']);
    expect(view.properties.goals.items.properties.status.enum).toEqual(['open', 'achieved', 'cancelled']);
  });

  it('describes the adapt body as one schema per action, dispatched on action', () => {
    const body = openapi.paths['/v1/cases/{id}/fragments/{fid}/adapt'].post.requestBody.content['application/json'].schema;
    expect(body.discriminator).toEqual({ propertyName: 'action' });
    expect(body.oneOf.map((b: any) => b.properties.action.const ?? b.properties.action.enum?.[0])).toEqual(['migrate', 'jump', 'cancel', 'reassign']);
  });
});

describe('answers', () => {
  it('POST /v1/cases/:id/content answers the new item (id) with the case', async () => {
    const c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Content id', case_file: { account: { id: 'acc-w' } } });
    const res = await caseApi(t).call(agent, 'POST', `/v1/cases/${c.id}/content`, { kind: 'note', data: { text: 'called back' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ id: c.id, version: c.version + 1, content: { id: expect.any(String), kind: 'note', added_by: agent.userId } });
    const listed = (await caseApi(t).call(agent, 'GET', `/v1/cases/${c.id}/content`)).json();
    expect(listed.items.map((i: { id: string }) => i.id)).toContain(body.content.id);
  });

  it('a dry-run migration answers dry_run and snake_case result fields; problems name fields in snake_case', async () => {
    const c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Dry run', case_file: { account: { id: 'acc-d' } } });
    const notify = fragmentOf(c, 'notify-customer');
    const url = `/v1/cases/${c.id}/fragments/${notify.id}/adapt`;
    const res = await caseApi(t).call(agent, 'POST', url, { action: 'migrate', to: 'notify-customer@2', state_mapping: { notifying: 'drafting' }, reason: 'v2', dry_run: true });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json().result;
    expect(result).toMatchObject({ dry_run: true, fragment_id: notify.id, tasks: { opened: [{ state_key: 'drafting' }] } });
    expect(JSON.stringify(result)).not.toMatch(/"[a-z]+[A-Z]\w*":/);

    const refused = await caseApi(t).call(agent, 'POST', url, { action: 'migrate', to: 'notify-customer@2', reason: 'v2' });
    const problem = expectProblem(refused, 422, 'STATE_NOT_FOUND');
    expect(problem.detail).toContain('state_mapping');
    expect(problem.detail).not.toContain('stateMapping');
    const missing = expectProblem(await caseApi(t).call(agent, 'POST', `/v1/tasks/no-such-task/claim`), 404, 'TASK_NOT_FOUND');
    expect(Object.keys(missing).filter((k) => CAMEL.test(k))).toEqual([]);
  });
});
