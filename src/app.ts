/**
 * buildApp(deps): the HTTP application, without listening. The server and the tests build it
 * the same way; tests use `app.inject()`.
 */
import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { apiKeyRoutes } from './http/api-key-routes.js';
import { auth } from './http/auth.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { problemDetails } from './http/problem-details.js';
import { systemRoutes, type Check } from './http/system-routes.js';
import { createApiKeyStore } from './persistence/api-key-store.js';
import type { DatabaseHandle } from './platform/database.js';
import type { JobQueue } from './platform/job-queue.js';
import type { SecretBox } from './platform/secret-box.js';
import type { CaseState } from './cases/types.js';
import type { Core } from './core.js';
import { caseRoutes } from './http/case-routes.js';
import { catalogRoutes } from './http/catalog-routes.js';
import { taskRoutes } from './http/task-routes.js';
import { inboundSourceRoutes } from './http/inbound-source-routes.js';
import { inboundWebhookRoutes } from './http/inbound-webhook-routes.js';
import { inboxRoutes } from './http/inbox-routes.js';
import { createInboundSources } from './inbound/inbound-sources.js';
import { createInboxRelay } from './relay/inbox-relay.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  jobs: JobQueue;
  /** Seals webhook secrets before they are stored. */
  secrets: SecretBox;
  core: Core;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildApp(deps: AppDeps) {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    // Incoming ids are kept when they look like ids, so a trace spans systems.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    ajv: {
      // Unknown fields are an error, never silently dropped (mass-assignment safety).
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(problemDetails);
  registerJsonBodyParser(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera API',
        version: '1',
        description: 'Adaptive case management: cases, goals, fragments, tasks. Errors are RFC 9457 problem+json.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const checks: Check[] = [{ name: 'postgres', ping: () => deps.database.ping() }];
  if (deps.jobs.kind === 'bullmq') checks.push({ name: 'redis', ping: () => deps.jobs.ping() });
  await app.register(systemRoutes, { checks, mode: deps.jobs.kind === 'bullmq' ? 'queue' : 'embedded' });

  const apiKeys = createApiKeyStore(deps.database.db);
  const sources = createInboundSources({ db: deps.database.db, secrets: deps.secrets, catalog: deps.core.catalog });
  const inboxRelay = createInboxRelay({ db: deps.database.db, jobs: deps.jobs, logger: deps.logger });
  const describe = (state: CaseState) =>
    deps.core.engine.acceptedEvents(state, { definitions: (ref) => deps.core.catalog.fragment(ref) });
  await app.register(async (api) => {
    await api.register(auth, { apiKeys, adminKey: config.adminKey });
    await api.register(apiKeyRoutes, { apiKeys });
    await api.register(catalogRoutes, { catalog: deps.core.catalog });
    await api.register(caseRoutes, { core: deps.core, db: deps.database.db, describe });
    await api.register(taskRoutes, { core: deps.core, db: deps.database.db });
    await api.register(inboundSourceRoutes, { sources });
    await api.register(inboxRoutes, { db: deps.database.db, sources, relay: inboxRelay });
    // Its own scope: the raw-body content-type parser must not reach the other routes.
    await api.register(inboundWebhookRoutes, { db: deps.database.db, sources, relay: inboxRelay });
  });

  return app;
}

export type TesseraApp = Awaited<ReturnType<typeof buildApp>>;
