/**
 * The services a process shares between its HTTP side and its workers, assembled once: API keys,
 * inbound sources (their 5 s cache and compiled mappings), the JSONata sandbox (worker threads),
 * the SSRF guard, the inbox relay, the idempotent writer, the inbound use cases and what intake
 * needs from the customer aggregate and the signals pipeline. server.ts
 * builds them once and hands the same object to buildApp() and startWorkers(), so a process in
 * role `all` has one source cache (a mapping change made over HTTP is seen by its own workers at
 * once) and one set of sandbox threads. Tests that build only one side may omit them: that side
 * assembles its own with this same function.
 */
import type { Logger } from 'pino';
import { createIdempotentWriter, type IdempotentWriter } from './commands/run-idempotent.js';
import type { Core } from './core.js';
import { createWebhookAcceptor, type WebhookAcceptor } from './inbound/accept-webhook.js';
import { createInboxApplier, type InboxApplier } from './inbound/apply-inbox.js';
import { createInboundSources, type InboundSources } from './inbound/inbound-sources.js';
import { createCustomerIntake } from './inbound/customer-intake.js';
import type { IntakeCustomers, IntakeSignals } from './inbound/intake-ports.js';
import { createSignalIntake, type SignalIntake } from './inbound/signal-intake.js';
import { jsonataSandbox, type JsonataSandbox } from './inbound/jsonata-sandbox.js';
import { createInboxRetrier, type InboxRetrier } from './inbound/retry-inbox.js';
import { createApiKeyStore, type ApiKeyStore } from './persistence/api-key-store.js';
import type { DatabaseHandle } from './platform/database.js';
import type { JobQueue } from './platform/job-queue.js';
import type { SecretBox } from './platform/secret-box.js';
import { createInboxRelay, type InboxRelay } from './relay/inbox-relay.js';
import { createSsrfGuard, type HostResolver, type SsrfGuard } from './webhooks/ssrf-guard.js';

export interface ServicesDeps {
  database: DatabaseHandle;
  jobs: JobQueue;
  secrets: SecretBox;
  core: Core;
  logger: Logger;
  /** Outbound webhook hosts allowed past the SSRF guard (TESSERA_WEBHOOK_ALLOWLIST). */
  webhookAllowlist: readonly string[];
  /** How webhook URL hosts resolve (default: the system resolver). A test seam. */
  resolveHost?: HostResolver;
  /** Default: the process's shared sandbox. */
  sandbox?: JsonataSandbox;
  /** The customer aggregate and the signals pipeline as intake sees them (default: none / provided sentiment). */
  intake?: { customers?: IntakeCustomers; signals?: IntakeSignals };
}

export interface Services {
  apiKeys: ApiKeyStore;
  sources: InboundSources;
  sandbox: JsonataSandbox;
  ssrfGuard: SsrfGuard;
  inboxRelay: InboxRelay;
  writes: IdempotentWriter;
  /** Inbound use cases: accept (HTTP), apply (workers), retry (HTTP). */
  acceptor: WebhookAcceptor;
  applier: InboxApplier;
  retrier: InboxRetrier;
  /** Content checks and sentiment for intake events (stats: posts analysed, sentiment CPU time). */
  signals: SignalIntake;
}

export function assembleServices(deps: ServicesDeps): Services {
  const db = deps.database.db;
  const sandbox = deps.sandbox ?? jsonataSandbox();
  const sources = createInboundSources({ db, secrets: deps.secrets, catalog: deps.core.catalog, sandbox });
  const inboxRelay = createInboxRelay({ db, jobs: deps.jobs, logger: deps.logger });
  const writes = createIdempotentWriter({ db, secrets: deps.secrets });
  const signals = createSignalIntake({ sentiment: () => deps.core.sentiment });
  return {
    apiKeys: createApiKeyStore(db),
    sources,
    sandbox,
    ssrfGuard: createSsrfGuard({ allowlist: deps.webhookAllowlist, ...(deps.resolveHost ? { resolveHost: deps.resolveHost } : {}) }),
    inboxRelay,
    writes,
    acceptor: createWebhookAcceptor({ db, sources, relay: inboxRelay }),
    applier: createInboxApplier({
      db,
      runner: deps.core.runner,
      sources,
      catalog: deps.core.catalog,
      syncCatalog: () => deps.core.catalogSync.sync(db),
      logger: deps.logger,
      customers: deps.intake?.customers ?? createCustomerIntake({ db, writes, handOverOutbox: (ids) => deps.core.relay.handOverOutbox(ids) }),
      signals: deps.intake?.signals ?? signals,
    }),
    signals,
    retrier: createInboxRetrier({ db, sources, relay: inboxRelay, writes }),
  };
}
