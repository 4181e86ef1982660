/**
 * Fragment diagrams: the graph follows the engine's target resolution (nested, cross-container,
 * guarded, delayed, eventless, self transitions; targetless ones are not drawn); the layout's
 * coordinates are absolute (every box inside its container, every edge starting at its source's
 * box and ending at its target's); layouts are cached per definition version; over HTTP on real
 * Postgres and Redis the library and case routes answer the layout, inline fragments included,
 * with the case's visibility rules and problem+json for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiagramCache } from '../../src/diagrams/diagram-cache.js';
import { layoutGraph, type DiagramLayout } from '../../src/diagrams/layout.js';
import { machineGraph } from '../../src/diagrams/machine-graph.js';
import type { FragmentDefinition, MachineJson } from '../../src/fragments/types.js';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi } from '../support/case-api.js';
import { startTestApp, uniqueId } from '../support/platform.js';

const NESTED: MachineJson = {
  id: 'review',
  initial: 'drafting',
  states: {
    drafting: { on: { SUBMIT: 'checking', SAVE: { actions: [{ type: 'emit', params: { eventType: 'x' } }] }, TOUCH: 'drafting' } },
    checking: {
      initial: 'legal',
      states: {
        legal: { tags: ['task'], meta: { task: { title: 'Legal check of the reply' } }, on: { OK: 'tone' } },
        tone: { on: { OK: '#review.done', REJECT: { target: '#review.drafting', guard: 'someGuard' } } },
      },
      after: { PT4H: 'escalated' },
      on: { WITHDRAW: '.legal' },
    },
    escalated: { always: 'done' },
    done: { type: 'final' },
  },
};

const near = (a: number, b: number, tolerance = 1.5) => Math.abs(a - b) <= tolerance;
function onBorder(p: { x: number; y: number }, box: { x: number; y: number; width: number; height: number }) {
  const insideX = p.x >= box.x - 1.5 && p.x <= box.x + box.width + 1.5;
  const insideY = p.y >= box.y - 1.5 && p.y <= box.y + box.height + 1.5;
  const onEdge = near(p.x, box.x) || near(p.x, box.x + box.width) || near(p.y, box.y) || near(p.y, box.y + box.height);
  return insideX && insideY && onEdge;
}

function expectConsistent(layout: DiagramLayout) {
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  for (const n of layout.nodes) {
    expect(n.width, n.id).toBeGreaterThan(0);
    expect(n.x + n.width, n.id).toBeLessThanOrEqual(layout.width + 0.5);
    expect(n.y + n.height, n.id).toBeLessThanOrEqual(layout.height + 0.5);
    if (n.parent === null) continue;
    const p = byId.get(n.parent)!;
    expect(n.x >= p.x && n.y >= p.y && n.x + n.width <= p.x + p.width && n.y + n.height <= p.y + p.height, `${n.id} inside ${p.id}`).toBe(true);
  }
  for (const e of layout.edges) {
    expect(e.points.length, e.id).toBeGreaterThanOrEqual(2);
    expect(onBorder(e.points[0]!, byId.get(e.source)!), `${e.id} starts at ${e.source}: ${JSON.stringify(e.points[0])} ${JSON.stringify(byId.get(e.source))}`).toBe(true);
    expect(onBorder(e.points.at(-1)!, byId.get(e.target)!), `${e.id} ends at ${e.target}`).toBe(true);
  }
}

describe('machine graph', () => {
  it('has one node per state (paths as ids), initial pseudo-nodes, and one edge per targeted transition', () => {
    const g = machineGraph(NESTED);
    expect(g.nodes.map((n) => [n.id, n.kind, n.parent])).toEqual([
      ['#initial', 'initial', null],
      ['drafting', 'atomic', null],
      ['checking', 'compound', null],
      ['checking#initial', 'initial', 'checking'],
      ['checking.legal', 'atomic', 'checking'],
      ['checking.tone', 'atomic', 'checking'],
      ['escalated', 'atomic', null],
      ['done', 'final', null],
    ]);
    expect(g.nodes.find((n) => n.id === 'checking.legal')!.taskTitle).toBe('Legal check of the reply');
    const edges = g.edges.map((e) => [e.source, e.target, e.trigger, e.label, e.container]);
    expect(edges).toEqual([
      ['#initial', 'drafting', 'initial', '', null],
      ['checking#initial', 'checking.legal', 'initial', '', 'checking'],
      ['drafting', 'checking', 'event', 'SUBMIT', null],
      // A self transition is a loop; SAVE (actions only) is not drawn.
      ['drafting', 'drafting', 'event', 'TOUCH', null],
      ['checking', 'checking.legal', 'event', 'WITHDRAW', null],
      ['checking', 'escalated', 'after', 'after PT4H', null],
      ['checking.legal', 'checking.tone', 'event', 'OK', 'checking'],
      ['checking.tone', 'done', 'event', 'OK', null],
      ['checking.tone', 'drafting', 'event', 'REJECT [someGuard]', null],
      ['escalated', 'done', 'always', 'always', null],
    ]);
  });
});

describe('layout', () => {
  it('gives absolute coordinates: children inside containers, edges from source box to target box', async () => {
    const layout = await layoutGraph(machineGraph(NESTED));
    expect(layout.layout).toEqual({ engine: 'elkjs', algorithm: 'layered', direction: 'RIGHT', coordinates: 'absolute' });
    expectConsistent(layout);
    // Laid out left to right: the initial dot comes before the first state.
    const x = (id: string) => layout.nodes.find((n) => n.id === id)!.x;
    expect(x('#initial')).toBeLessThan(x('drafting'));
    expect(x('drafting')).toBeLessThan(x('done'));
    expect(layout.edges.filter((e) => e.label !== '').every((e) => e.label_box !== null)).toBe(true);
  });

  it('computes a definition version once and serves it from the cache after', async () => {
    const cache = createDiagramCache();
    const definition: FragmentDefinition = { key: 'review', version: 3, title: 'Review', machine: NESTED };
    const [a, b] = await Promise.all([cache.diagramOf(definition), cache.diagramOf(definition)]);
    const c = await cache.diagramOf(definition);
    expect(cache.computed).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a).toMatchObject({ ref: 'review@3', key: 'review', version: 3, title: 'Review', machine_id: 'review' });
    await cache.diagramOf({ ...definition, version: 4 });
    expect(cache.computed).toBe(2);
  });
});

describe('HTTP', () => {
  let t: Awaited<ReturnType<typeof startTestApp>>;
  let api: ReturnType<typeof caseApi>;
  let supervisor: Actor;
  let agent: Actor;
  let outsider: Actor;
  const queue = uniqueId('diagrams');

  beforeAll(async () => {
    t = await startTestApp({ prefixSuffix: `-${uniqueId('diagram')}` });
    api = caseApi(t);
    supervisor = await createActor(t.database.db, 'supervisor');
    agent = await createActor(t.database.db, 'agent', uniqueId('agent'), [queue]);
    outsider = await createActor(t.database.db, 'agent', uniqueId('agent'), [uniqueId('elsewhere')]);
  });
  afterAll(() => t.close());

  it('answers every shipped library fragment laid out, with a version ETag', async () => {
    for (const f of t.core.catalog.fragments()) {
      const res = await api.call(agent, 'GET', `/v1/fragments/${f.key}/versions/${f.version}/diagram`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.etag).toBe(`"${f.key}@${f.version}"`);
      expect(res.headers['cache-control']).toBe('private, max-age=86400');
      const body = res.json();
      expect(body).toMatchObject({ ref: `${f.key}@${f.version}`, title: f.title, machine_id: f.machine.id });
      expectConsistent(body);
      expect(body.nodes.filter((n: { kind: string }) => n.kind !== 'initial').map((n: { id: string }) => n.id).sort()).toEqual(
        machineGraph(f.machine).nodes.filter((n) => n.kind !== 'initial').map((n) => n.id).sort(),
      );
    }
  });

  it('refuses unknown fragments and bad versions with problem+json naming the fix', async () => {
    const unknown = await api.call(agent, 'GET', '/v1/fragments/no-such-fragment/versions/1/diagram');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    expect(unknown.json().detail).toContain('GET /v1/fragments lists them');
    const bad = await api.call(agent, 'GET', '/v1/fragments/supplier-repair/versions/abc/diagram');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].pointer).toBe('/version');
    const noAuth = await t.app.inject({ method: 'GET', url: '/v1/fragments/supplier-repair/versions/1/diagram' });
    expect(noAuth.statusCode).toBe(401);
  });

  it("answers a case fragment's layout with its active states, inline fragments too; others' cases are not found", async () => {
    const c = await api.open(supervisor, { template: 'product-repair', title: 'Diagram repair', queue });
    const fragment = c.fragments[0]!;
    const res = await api.call(agent, 'GET', `/v1/cases/${c.id}/fragments/${fragment.id}/diagram`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ fragment_id: fragment.id, definition: fragment.definition, status: 'active', active_states: fragment.states });
    const ids = new Set(body.diagram.nodes.map((n: { id: string }) => n.id));
    expect(body.active_states.length).toBeGreaterThan(0);
    for (const s of body.active_states) expect(ids.has(s), s).toBe(true);

    const withInline = await api.addFragment(supervisor, c.id, {
      definition: { title: 'Call back twice', machine: { id: 'callback', initial: 'first', states: { first: { on: { DONE: 'second' } }, second: { on: { DONE: 'over' } }, over: { type: 'final' } } } },
    });
    const inline = withInline.fragments.find((f) => f.title === 'Call back twice')!;
    const inlineRes = await api.call(agent, 'GET', `/v1/cases/${c.id}/fragments/${inline.id}/diagram`);
    expect(inlineRes.statusCode, inlineRes.body).toBe(200);
    expect(inlineRes.json()).toMatchObject({ definition: inline.definition, active_states: ['first'] });
    // Stored as jsonb, whose key order is not the author's: compared as a set.
    expect(inlineRes.json().diagram.nodes.map((n: { id: string }) => n.id).sort()).toEqual(['#initial', 'first', 'over', 'second']);

    const hidden = await api.call(outsider, 'GET', `/v1/cases/${c.id}/fragments/${fragment.id}/diagram`);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().code ?? hidden.json().type).toMatch(/case-not-found|CASE_NOT_FOUND/);
    const noFragment = await api.call(agent, 'GET', `/v1/cases/${c.id}/fragments/nope/diagram`);
    expect(noFragment.statusCode).toBe(404);
    expect(noFragment.json().detail).toContain(`GET /v1/cases/${c.id} lists its fragments`);
  });
});
