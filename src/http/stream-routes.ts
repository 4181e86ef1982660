/**
 * GET /v1/stream: the live stream (server-sent events), one per browser tab, and
 * PUT /v1/stream/:stream_id/subscriptions to change what it watches. The protocol is in the
 * README ("Live stream"). @fastify/sse negotiates the response and writes the heartbeat
 * comments; events are framed by the hub and written to the socket directly (live-stream.ts
 * says why), and an idle stream is exempt from the server's idle-socket timeout (the heartbeat
 * keeps proxies from closing it, and a dead client is found by the failed writes).
 */
import * as sseModule from '@fastify/sse';
import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TesseraError } from '../errors.js';
import type { Live } from '../live/live-service.js';
import type { LiveStream } from '../live/live-stream.js';
import { checkSubscriptions, commaList, MAX_LISTS, MAX_WATCHED_CASES } from '../live/live-subscriptions.js';

const WATCHERS = ['agent', 'supervisor', 'admin'] as const;
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

const StreamQuery = Type.Object(
  {
    cases: Type.Optional(Type.String({ maxLength: 10_000, description: `Case ids to watch, comma-separated (at most ${MAX_WATCHED_CASES})` })),
    lists: Type.Optional(Type.String({ maxLength: 4_000, description: 'Lists to watch, comma-separated: inbox, queues (your teams), queue:<name>' })),
    tiles: Type.Optional(Type.Boolean({ description: 'The supervisor SLA tiles (supervisors and admins)' })),
    last_event_id: Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this event id (for a new EventSource; the Last-Event-ID header wins)' })),
  },
  { additionalProperties: false },
);

const SubscriptionsBody = Type.Object(
  {
    cases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: MAX_WATCHED_CASES })),
    lists: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 210 }), { maxItems: MAX_LISTS })),
    tiles: Type.Optional(Type.Boolean()),
    versions: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Case versions you hold: the stream sends the journal after them' })),
  },
  { additionalProperties: false },
);

const SubscriptionsView = Type.Object({
  stream_id: Type.String(),
  subscriptions: Type.Object({ cases: Type.Array(Type.String()), lists: Type.Array(Type.String()), tiles: Type.Boolean() }),
});

const STREAM_DESCRIPTION = [
  'Server-sent events: one stream per browser tab, multiplexing the cases, lists and tiles it watches.',
  'Events: ready, snapshot, case, list, tiles, presence, subscribed; `: heartbeat` comments every 15 s.',
  'Send Last-Event-ID (or last_event_id) to resume exactly after an event; without it, or when it is too far back, a snapshot comes first.',
  'Each stream carries only cases its user may see (the same rules as GET /v1/cases/:id). Sessions (cookie) or API keys.',
].join(' ');

// The package's CommonJS export is the fastify-plugin-wrapped plugin (its hook must reach these
// routes); its types only name the unwrapped one.
const fastifySSE = (sseModule as unknown as { default: FastifyPluginAsync<sseModule.SSEPluginOptions> }).default;

export const streamRoutes: FastifyPluginAsyncTypebox<{ live: Live }> = async (app, { live }) => {
  await app.register(fastifySSE, { heartbeatInterval: live.heartbeatMs });

  app.get(
    '/v1/stream',
    {
      sse: 'manual',
      config: { roles: WATCHERS },
      schema: {
        tags: ['live'],
        summary: 'The live stream (server-sent events)',
        description: STREAM_DESCRIPTION,
        querystring: StreamQuery,
        response: {
          200: { description: 'text/event-stream of ready, snapshot, case, list, tiles, presence and subscribed events', content: { 'text/event-stream': { schema: Type.String() } } },
          '4xx': problem,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const subscriptions = checkSubscriptions(request.principal, { cases: commaList(q.cases), lists: commaList(q.lists), tiles: q.tiles === true }, 'querystring');
      const header = request.headers['last-event-id'];
      const lastEventId = typeof header === 'string' ? header : q.last_event_id;
      const sse = reply.sse;
      // A stream is idle between events by design; the heartbeat keeps it alive.
      request.raw.socket.setTimeout(0);
      sse.keepAlive();
      sse.sendHeaders(200);
      let stream: LiveStream | undefined;
      let gone = false;
      sse.onClose(() => {
        gone = true;
        stream?.close();
      });
      stream = await live.hub.open({
        principal: request.principal,
        subscriptions,
        lastEventId,
        sink: {
          write: (chunk) => {
            reply.raw.write(chunk);
          },
          buffered: () => reply.raw.writableLength,
          end: () => {
            // A client that stopped reading would keep an ended socket open: cut it.
            if (reply.raw.writableLength > 0) reply.raw.destroy();
            sse.close();
          },
        },
      });
      if (gone) stream.close();
    },
  );

  app.put(
    '/v1/stream/:stream_id/subscriptions',
    {
      config: { roles: WATCHERS },
      schema: {
        tags: ['live'],
        summary: "Replace a live stream's subscriptions (the stream confirms with a `subscribed` event)",
        params: Type.Object({ stream_id: Type.String({ minLength: 1, maxLength: 64 }) }),
        body: SubscriptionsBody,
        response: { 200: SubscriptionsView, 202: SubscriptionsView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const subscriptions = checkSubscriptions(request.principal, { cases: body.cases ?? [], lists: body.lists ?? [], tiles: body.tiles === true }, 'body');
      const outcome = await live.hub.changeSubscriptions(request.params.stream_id, request.principal, { subscriptions, ...(body.versions ? { versions: body.versions } : {}) });
      if (outcome === 'not_found') {
        throw new TesseraError('NOT_FOUND', `No live stream ${request.params.stream_id} of yours is open; open one with GET /v1/stream (its ready event names the stream id)`);
      }
      reply.code(outcome === 'applied' ? 200 : 202);
      return { stream_id: request.params.stream_id, subscriptions };
    },
  );
};
