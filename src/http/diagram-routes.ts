/**
 * Fragment diagrams: the layout of a definition version's machine (library), and of a case's
 * fragment (library or inline) with its active states, so a client draws the machine as SVG
 * and marks where the fragment is. Layouts are cached per definition version (diagram-cache.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { Catalog } from '../commands/catalog.js';
import type { DiagramCache } from '../diagrams/diagram-cache.js';
import { TesseraError } from '../errors.js';
import { loadCase } from '../persistence/case-store.js';
import { loadFragmentDefinitions } from '../persistence/definition-store.js';
import type { Database } from '../persistence/schema.js';
import { assertCanSeeCase } from './access.js';

const WORKERS = ['agent', 'supervisor', 'admin'] as const;
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Point = Type.Object({ x: Type.Number(), y: Type.Number() });
const Box = { x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() };

export const DiagramView = Type.Object(
  {
    ref: Type.String({ description: '`key@version` of the definition' }),
    key: Type.String(),
    version: Type.Integer(),
    title: Type.String(),
    machine_id: Type.String(),
    width: Type.Number(),
    height: Type.Number(),
    nodes: Type.Array(
      Type.Object({
        id: Type.String({ description: "The state's dotted path (as in a fragment's active_states); initial pseudo-nodes: `<parent path>#initial`" }),
        key: Type.String(),
        parent: Nullable(Type.String()),
        kind: Type.Union(['atomic', 'compound', 'parallel', 'final', 'initial'].map((k) => Type.Literal(k))),
        label: Type.String(),
        task_title: Nullable(Type.String()),
        ...Box,
      }),
      { description: 'Parents before their children; absolute coordinates' },
    ),
    edges: Type.Array(
      Type.Object({
        id: Type.String(),
        source: Type.String(),
        target: Type.String(),
        trigger: Type.Union(['event', 'after', 'always', 'initial'].map((k) => Type.Literal(k))),
        event: Nullable(Type.String({ description: 'The event type; for `after`, the delay as written' })),
        guard: Nullable(Type.String()),
        label: Type.String(),
        points: Type.Array(Point, { description: 'Polyline from the source to the target (arrow at the end), absolute coordinates' }),
        label_box: Nullable(Type.Object(Box)),
      }),
    ),
    layout: Type.Object({ engine: Type.String(), algorithm: Type.String(), direction: Type.String(), coordinates: Type.String() }),
  },
  { description: 'A laid-out statechart: boxes per state and edge polylines, in absolute coordinates (top-left 0,0)' },
);

const CaseFragmentDiagram = Type.Object({
  fragment_id: Type.String(),
  definition: Type.String(),
  title: Type.String(),
  status: Type.String(),
  active_states: Type.Array(Type.String(), { description: 'Dotted paths of the active atomic states: node ids to mark as current' }),
  diagram: DiagramView,
});

export const diagramRoutes: FastifyPluginAsyncTypebox<{ catalog: Catalog; db: Kysely<Database>; diagrams: DiagramCache }> = async (app, { catalog, db, diagrams }) => {
  app.get(
    '/v1/fragments/:key/versions/:version/diagram',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['catalog'],
        summary: "A library fragment version's machine, laid out for drawing (cached per version)",
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 200 }), version: Type.Integer({ minimum: 1 }) }),
        response: { 200: DiagramView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const { key, version } = request.params;
      const definition = catalog.fragment(`${key}@${version}`);
      if (!definition || key.startsWith('inline:')) {
        throw new TesseraError('FRAGMENT_NOT_FOUND', `No fragment ${key} version ${version} in the library; GET /v1/fragments lists them (inline fragments: GET /v1/cases/{id}/fragments/{fid}/diagram)`);
      }
      const diagram = await diagrams.diagramOf(definition);
      // A definition version never changes.
      reply.header('cache-control', 'private, max-age=86400');
      reply.header('etag', `"${diagram.ref}"`);
      return diagram;
    },
  );

  app.get(
    '/v1/cases/:id/fragments/:fid/diagram',
    {
      config: { roles: WORKERS },
      schema: {
        tags: ['cases'],
        summary: "A case fragment's machine laid out for drawing, with its active states (library and inline fragments)",
        params: Type.Object({ id: Type.String({ maxLength: 200 }), fid: Type.String({ maxLength: 200 }) }),
        response: { 200: CaseFragmentDiagram, '4xx': problem },
      },
    },
    async (request) => {
      const { id, fid } = request.params;
      const state = await loadCase(db, id);
      if (!state) throw new TesseraError('CASE_NOT_FOUND', `No case has id ${id}`);
      assertCanSeeCase(request.principal, state);
      const fragment = state.fragments.find((f) => f.id === fid);
      if (!fragment) throw new TesseraError('FRAGMENT_NOT_FOUND', `Case ${id} has no fragment ${fid}; GET /v1/cases/${id} lists its fragments`);
      let definition = catalog.fragment(fragment.definition);
      if (!definition) {
        // An inline definition this process has not seen yet: it is stored with the case.
        [definition] = await loadFragmentDefinitions(db, [fragment.definition]);
        if (definition) catalog.remember(definition);
      }
      if (!definition) throw new TesseraError('FRAGMENT_NOT_FOUND', `The definition ${fragment.definition} of fragment ${fid} is not stored`);
      return {
        fragment_id: fragment.id,
        definition: fragment.definition,
        title: fragment.title,
        status: fragment.status,
        active_states: fragment.activeStates ?? [],
        diagram: await diagrams.diagramOf(definition),
      };
    },
  );
};
