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
import { bodyLimit } from './http/body-limit.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { createRequestValidatorCompiler } from './http/request-validator.js';
import { clientErrorHandler, problemDetails } from './http/problem-details.js';
import { rateLimit } from './http/rate-limit.js';
import { recordRoutes } from './http/route-table.js';
import { registerReadinessGauge, systemRoutes, type Check } from './http/system-routes.js';
import { createUserStore } from './persistence/user-store.js';
import { createSessionIssuer } from './commands/session-issuer.js';
import { createUserCommands } from './commands/user-commands.js';
import { SESSION_COOKIE } from './http/session-cookie.js';
import { OneLinePerRequest } from './http/request-log.js';
import { sessionRoutes } from './http/session-routes.js';
import { createSignInThrottle } from './http/sign-in-throttle.js';
import { userRoutes } from './http/user-routes.js';
import { Redis } from 'ioredis';
import type { DatabaseHandle } from './platform/database.js';
import type { JobQueue } from './platform/job-queue.js';
import type { SecretBox } from './platform/secret-box.js';
import type { CaseState } from './cases/types.js';
import { customerSnapshot } from './customers/snapshot.js';
import type { CustomerState } from './customers/types.js';
import type { Core } from './core.js';
import { caseRoutes } from './http/case-routes.js';
import { customerRoutes } from './http/customer-routes.js';
import { catalogRoutes } from './http/catalog-routes.js';
import { templateDraftRoutes } from './http/template-draft-routes.js';
import { recommendationRoutes } from './http/recommendation-routes.js';
import { createTemplateDrafts } from './commands/template-drafts.js';
import { taskRoutes } from './http/task-routes.js';
import { supervisorRoutes } from './http/supervisor-routes.js';
import { historyRoutes } from './http/history-routes.js';
import { workloadRoutes } from './http/workload-routes.js';
import { webhookRoutes } from './http/webhook-routes.js';
import { openApiWebhooks } from './webhooks/openapi-webhooks.js';
import type { HostResolver } from './webhooks/ssrf-guard.js';
import { assembleServices, type Services } from './services.js';
import { inboundSourceRoutes } from './http/inbound-source-routes.js';
import { inboundWebhookRoutes } from './http/inbound-webhook-routes.js';
import { inboxRoutes } from './http/inbox-routes.js';
import { uiRoutes } from './http/ui-routes.js';
import { diagramRoutes } from './http/diagram-routes.js';
import { consoleRoutes } from './http/console-routes.js';
import { createDiagramCache } from './diagrams/diagram-cache.js';
import { createElkWorker } from './diagrams/elk-worker.js';
import { libraryDefinitions } from './diagrams/library-diagrams.js';
import { streamRoutes } from './http/stream-routes.js';
import { createLive, liveBusFor, type Live, type LiveOptions } from './live/live-service.js';
import { httpMetrics, metricsRoute } from './http/metrics-routes.js';
import { privacyRoutes } from './http/privacy-routes.js';
import { createEraser } from './privacy/erase-personal-data.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  jobs: JobQueue;
  /** Seals webhook secrets before they are stored. */
  secrets: SecretBox;
  core: Core;
  /** Embedded mode: the per-start admin token the CLI reads from the data directory's lock file. */
  localAdminToken?: string;
  /** How webhook URL hosts resolve for the SSRF guard (default: the system resolver). A test seam. */
  resolveHost?: HostResolver;
  /** The services shared with this process's workers (server.ts); absent: assembled here (tests). */
  services?: Services;
  /** Live streams (change feed, hub, bus); absent: assembled here, on Redis in queue mode. */
  live?: Live;
  /** Timings of the live streams assembled here (tests make them short). */
  liveOptions?: LiveOptions;
  /**
   * Lay out the library's diagrams in the background once the app is ready (server.ts, the UI
   * bench). Off by default: most test apps never draw a diagram and would pay a layout each.
   */
  warmDiagrams?: boolean;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildApp(deps: AppDeps) {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new OneLinePerRequest(),
    bodyLimit: config.bodyLimitBytes,
    // A request (headers and body) must arrive within requestTimeoutMs, else 408 and the socket
    // is closed: a client that stalls mid-upload (slowloris) cannot hold a connection. Node checks
    // the deadline every connectionsCheckingInterval (30 s by default, too coarse for the limit).
    requestTimeout: config.requestTimeoutMs,
    // Idle sockets (e.g. a client that stops reading the reply) are destroyed later, as a
    // backstop; a stalled request gets its 408 first.
    connectionTimeout: config.requestTimeoutMs * 2,
    clientErrorHandler,
    http: {
      headersTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(config.requestTimeoutMs / 4))),
    },
    // Incoming ids are kept when they look like ids, so a trace spans systems.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Bodies are validated without coercion or defaults; query strings and params are parsed to
  // their declared types (see request-validator.ts).
  app.setValidatorCompiler(createRequestValidatorCompiler());
  recordRoutes(app);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(problemDetails);
  await app.register(httpMetrics, { metrics: deps.core.metrics });
  // Before any route: an oversized body is drained (up to a bound) before its 413, so clients read it.
  await app.register(bodyLimit, { limitBytes: config.bodyLimitBytes });
  registerJsonBodyParser(app);
  // Before any route, so that every route gets the limiter's hook (its onRoute hook).
  await app.register(rateLimit, {
    perMinute: config.rateLimitPerMinute,
    redisUrl: deps.jobs.kind === 'bullmq' ? config.redisUrl : undefined,
    redisPrefix: config.redisPrefix,
    logger: deps.logger,
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera API',
        version: '1',
        description: 'Adaptive case management: cases, goals, fragments, tasks. Errors are RFC 9457 problem+json.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description:
              'Browser session from POST /v1/sessions (httpOnly, SameSite=Strict). POST, PUT, PATCH and DELETE with it also need X-CSRF-Token (the csrf_token of the session) and a same-origin Origin or Referer.',
          },
        },
      },
      // Either credential, with the same authorization.
      security: [{ apiKey: [] }, { session: [] }],
      // Outbound events, as OpenAPI 3.1 describes requests Tessera sends to subscribers.
      webhooks: openApiWebhooks(),
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const checks: Check[] = [{ name: 'postgres', ping: () => deps.database.ping() }];
  if (deps.jobs.kind === 'bullmq') checks.push({ name: 'redis', ping: () => deps.jobs.ping() });
  await app.register(systemRoutes, { checks, mode: deps.jobs.kind === 'bullmq' ? 'queue' : 'embedded' });
  registerReadinessGauge(deps.core.metrics, checks);

  const services =
    deps.services ??
    assembleServices({
      database: deps.database,
      jobs: deps.jobs,
      secrets: deps.secrets,
      core: deps.core,
      logger: deps.logger,
      webhookAllowlist: config.webhooks.allowlist,
      ...(deps.resolveHost ? { resolveHost: deps.resolveHost } : {}),
    });
  const { apiKeys, sources, writes } = services;
  await app.register(metricsRoute, {
    metrics: deps.core.metrics,
    access: { metricsToken: config.metrics.token, adminKey: config.adminKey, roleOfKey: async (key) => (await apiKeys.findByKey(key))?.role ?? null },
  });
  // Browser sign-in is HTTP's own: the workers never see a session.
  const users = createUserStore(deps.database.db);
  const sessions = createSessionIssuer({ db: deps.database.db, idleSeconds: config.sessions.idleSeconds, absoluteSeconds: config.sessions.absoluteSeconds });
  const throttle = createSignInThrottle({
    maxPerUsername: config.sessions.maxFailuresPerUsername,
    maxPerIp: config.sessions.maxFailuresPerIp,
    windowSeconds: config.sessions.failureWindowSeconds,
    redis: deps.jobs.kind === 'bullmq' && config.redisUrl ? signInRedis(app, config.redisUrl, deps.logger) : undefined,
    prefix: config.redisPrefix,
    logger: deps.logger,
  });
  const describe = (state: CaseState, customer?: CustomerState) =>
    deps.core.engine.acceptedEvents(state, {
      definitions: (ref) => deps.core.catalog.fragment(ref),
      ...(customer ? { customer: customerSnapshot(customer) } : {}),
    });
  // Live streams: the change feed hears every commit of this process's core; open streams end
  // before the server closes (an open stream would hold app.close() forever).
  const live =
    deps.live ??
    createLive({
      db: deps.database.db,
      bus: liveBusFor({ redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, queueMode: deps.jobs.kind === 'bullmq', logger: deps.logger }),
      logger: deps.logger,
      ...(deps.liveOptions ? { options: deps.liveOptions } : {}),
    });
  const stopHearing = deps.core.onCommitted(live.committed);
  app.decorate('live', live);
  app.addHook('preClose', async () => {
    stopHearing();
    await (deps.live ? live.hub.close() : live.close());
  });
  // Diagram layouts run on a worker thread: a first layout must not stall other requests.
  const elkWorker = createElkWorker();
  const diagrams = createDiagramCache({ runLayout: elkWorker.layout });
  app.addHook('onClose', async () => elkWorker.close());
  if (deps.warmDiagrams) {
    app.addHook('onReady', async () => {
      void diagrams.warm(libraryDefinitions(deps.core.catalog));
    });
  }
  await app.register(async (api) => {
    await api.register(auth, { apiKeys, adminKey: config.adminKey, localAdminToken: deps.localAdminToken, sessions, trustedOrigins: config.sessions.trustedOrigins });
    await api.register(apiKeyRoutes, { apiKeys, writes });
    await api.register(sessionRoutes, { users, sessions, throttle, config: config.sessions });
    await api.register(userRoutes, { users, commands: createUserCommands({ writes }) });
    await api.register(catalogRoutes, { catalog: deps.core.catalog, sync: () => deps.core.catalogSync.sync(deps.database.db) });
    await api.register(templateDraftRoutes, { db: deps.database.db, drafts: createTemplateDrafts({ catalog: deps.core.catalog, catalogSync: deps.core.catalogSync }), writes });
    await api.register(recommendationRoutes, { db: deps.database.db, catalog: deps.core.catalog, writes });
    await api.register(caseRoutes, { core: deps.core, db: deps.database.db, describe });
    await api.register(taskRoutes, { core: deps.core, db: deps.database.db });
    await api.register(customerRoutes, { db: deps.database.db, writes, relay: deps.core.relay });
    await api.register(supervisorRoutes, { db: deps.database.db, now: deps.core.now });
    await api.register(historyRoutes, { core: deps.core, db: deps.database.db });
    await api.register(workloadRoutes, { db: deps.database.db });
    await api.register(webhookRoutes, {
      db: deps.database.db,
      writes,
      secrets: deps.secrets,
      guard: services.ssrfGuard,
      relay: deps.core.relay.webhooks,
    });
    await api.register(inboundSourceRoutes, { sources, writes });
    await api.register(inboxRoutes, { db: deps.database.db, retrier: services.retrier });
    await api.register(consoleRoutes, { db: deps.database.db, core: deps.core });
    await api.register(diagramRoutes, { catalog: deps.core.catalog, db: deps.database.db, diagrams });
    await api.register(streamRoutes, { live });
    await api.register(privacyRoutes, {
      db: deps.database.db,
      eraser: createEraser({ db: deps.database.db, jobs: deps.jobs, logger: deps.logger, metrics: deps.core.metrics, forgetCases: deps.core.runner.forgetCopies }),
      now: deps.core.now,
    });
    // Its own scope: the raw-body content-type parser must not reach the other routes.
    await api.register(inboundWebhookRoutes, { acceptor: services.acceptor, perMinute: config.inboundRateLimitPerMinute });
  });
  // The web UI at `/` (public pages; their data comes from the API above, authorized there).
  await app.register(uiRoutes);

  return app;
}

/** The sign-in throttle's own Redis connection (like the rate limiter's: a slow Redis fails open, never holds sign-in). */
function signInRedis(app: { addHook: (name: 'onClose', fn: () => Promise<void>) => unknown }, url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1_000, connectionName: 'tessera-sign-in' });
  redis.on('error', (err) => logger.debug({ err }, 'sign-in throttle redis connection error'));
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return redis;
}

export type TesseraApp = Awaited<ReturnType<typeof buildApp>>;
