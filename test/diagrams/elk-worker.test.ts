/**
 * Layouts on the worker thread: the same boxes and edges as ELK on this thread, the event loop
 * free while it works, the library laid out ahead of requests, and nothing left running after
 * `close()`.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCatalog } from '../../src/commands/catalog.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import { createDiagramCache } from '../../src/diagrams/diagram-cache.js';
import { createElkWorker } from '../../src/diagrams/elk-worker.js';
import { layoutGraph } from '../../src/diagrams/layout.js';
import { libraryDefinitions } from '../../src/diagrams/library-diagrams.js';
import { machineGraph } from '../../src/diagrams/machine-graph.js';
import type { MachineJson } from '../../src/fragments/types.js';

const MACHINE: MachineJson = {
  id: 'review',
  initial: 'drafting',
  states: {
    drafting: { on: { SUBMIT: 'checking' } },
    checking: { initial: 'first', states: { first: { on: { OK: 'second' } }, second: { type: 'final' } }, onDone: 'done' },
    done: { type: 'final' },
  },
} as unknown as MachineJson;

const worker = createElkWorker();
afterAll(() => worker.close());

describe('the ELK worker', () => {
  it('lays out exactly as ELK on this thread, and the event loop keeps running meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 5);
    const [there, here] = await Promise.all([layoutGraph(machineGraph(MACHINE), worker.layout), Promise.resolve()]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(there).toEqual(await layoutGraph(machineGraph(MACHINE)));
    expect(here).toBeUndefined();
  });

  it('warms a cache with the library: every template pin and latest fragment, laid out once', async () => {
    const loaded = await loadCatalog(path.resolve(import.meta.dirname, '../../case-templates'));
    const catalog = createCatalog({ templates: loaded.templates, fragments: loaded.fragments });
    const definitions = libraryDefinitions(catalog);
    expect(definitions.length).toBeGreaterThan(0);
    for (const t of catalog.templates()) for (const ref of t.defaultFragments) expect(definitions.map((d) => `${d.key}@${d.version}`)).toContain(ref);
    const cache = createDiagramCache({ runLayout: worker.layout });
    await cache.warm(definitions);
    expect(cache.computed).toBe(definitions.length);
    const first = definitions[0]!;
    const diagram = await cache.diagramOf(first);
    expect(cache.computed).toBe(definitions.length);
    expect(diagram).toMatchObject({ ref: `${first.key}@${first.version}`, nodes: expect.any(Array) });
    expect(diagram.nodes.length).toBeGreaterThan(0);
  });

  it('refuses work after close, and a closed worker fails what it had pending instead of hanging', async () => {
    const own = createElkWorker();
    const pending = layoutGraph(machineGraph(MACHINE), own.layout);
    await own.close();
    await expect(pending).rejects.toThrow(/closed|stopped/);
    await expect(layoutGraph(machineGraph(MACHINE), own.layout)).rejects.toThrow(/closed/);
  });
});
