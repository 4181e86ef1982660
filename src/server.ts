/**
 * The process edge: config, logger, platform, HTTP and/or workers by role, graceful shutdown.
 * The only place that exits the process.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { buildApp, type TesseraApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { loggerOptions } from './platform/logger.js';
import { DataDirInUseError, newAdminToken } from './platform/data-dir-lock.js';
import { openPlatform, type Platform } from './platform/platform.js';
import { SecretBoxError } from './platform/secret-box.js';
import { assembleCore, type Core } from './core.js';
import { startWorkers, type Workers } from './worker.js';
import { assembleServices } from './services.js';
import { seedDemo } from './demo/seed-demo.js';
import { liveBusFor } from './live/live-service.js';

/** How often a process looks for template versions published by others, besides before each case open. */
const CATALOG_SYNC_INTERVAL_MS = 5_000;
import { startMetricsServer, type MetricsServer } from './ops/metrics-server.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tessera: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = pino(loggerOptions(config.logLevel));
  // Every path handles its own errors (a lost database connection is a 503 or a job retry); what
  // slips through is a bug, so it goes to the log where operators look, never into silence.
  // A stray rejected promise leaves no half-done state behind it: log it and keep serving.
  // An uncaught exception may have: log it and exit, for the orchestrator to restart us.
  // (With LOG_LEVEL=silent the stack still goes to stderr.)
  const report = (level: 'error' | 'fatal', err: unknown, msg: string) => {
    if (logger.isLevelEnabled(level)) logger[level]({ err }, msg);
    else process.stderr.write(`tessera: ${msg}: ${err instanceof Error ? err.stack : String(err)}\n`);
  };
  process.on('unhandledRejection', (reason) => {
    report('error', reason, 'unhandled promise rejection (a bug: the code that made this promise must handle its failure)');
  });
  process.on('uncaughtException', (err) => {
    report('fatal', err, 'uncaught exception; exiting');
    process.exit(1);
  });
  let platform: Platform;
  try {
    platform = await openPlatform(config, logger);
  } catch (err) {
    if (err instanceof SecretBoxError) {
      process.stderr.write(`tessera: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof DataDirInUseError) {
      // Refused before the database opened: nothing was migrated, armed or started.
      process.stderr.write(`tessera: ${err.message}\n`);
      process.exit(3);
    }
    throw err;
  }
  let app: TesseraApp | undefined;
  let core: Core | undefined;
  let workers: Workers | undefined;
  let closeLivePublisher: (() => Promise<void>) | undefined;
  let stopCatalogSync: (() => void) | undefined;
  let metricsServer: MetricsServer | undefined;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    try {
      // Stop accepting and drain HTTP first, then workers and queues, then the database.
      await app?.close();
      await workers?.close();
      await metricsServer?.close();
      // Hand-overs of the last commands (fire-and-forget after commit) reach the queue first.
      await core?.relay.settled();
      await closeLivePublisher?.();
      stopCatalogSync?.();
      await platform.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  core = await assembleCore({ database: platform.database, jobs: platform.jobs, logger, templatesDir: config.templatesDir, groupCommit: { writtenCases: config.writtenCases } });
  // Backstop for what reads the latest versions without a command (template lists, intake, deviation).
  stopCatalogSync = core.catalogSync.every(CATALOG_SYNC_INTERVAL_MS, platform.database.db, logger);
  // Assembled once: the HTTP side and the workers share the source cache, sandbox, guard and relays.
  const services = assembleServices({
    database: platform.database,
    jobs: platform.jobs,
    secrets: platform.secrets,
    core,
    logger,
    webhookAllowlist: config.webhooks.allowlist,
  });
  // The demo is for trying Tessera on one machine: embedded mode only, never queue mode.
  if (config.demo && config.databaseUrl === undefined && config.role !== 'worker') {
    await seedDemo({ db: platform.database.db, core, writes: services.writes, logger });
  }
  // A worker's commits (timers firing, intake) reach the API processes' live streams through Redis;
  // an API process's own commits are published by its live streams (app.ts).
  if (config.role === 'worker' && config.redisUrl) {
    const publisher = liveBusFor({ redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, queueMode: true, logger, subscribe: false });
    core.onCommitted((committed) => publisher.publishCommits({ cases: committed.map((c) => c.caseId) }));
    closeLivePublisher = () => publisher.close();
  }
  // A worker has no API: it serves its own /metrics (ops/metrics-server.ts) when given a port.
  if (config.role === 'worker' && config.metrics.port !== undefined) {
    metricsServer = await startMetricsServer(core.metrics, { metricsToken: config.metrics.token, adminKey: config.adminKey }, config.metrics.host, config.metrics.port);
    logger.info({ port: metricsServer.port }, 'worker metrics listening');
  }
  if (config.role !== 'api') workers = await startWorkers(platform, core, logger, { webhooks: config.webhooks, services });
  if (config.role !== 'worker') {
    const localAdminToken = platform.dataDirLock ? newAdminToken() : undefined;
    app = await buildApp({ config, logger, database: platform.database, jobs: platform.jobs, secrets: platform.secrets, core, services, warmDiagrams: true, ...(localAdminToken ? { localAdminToken } : {}) });
    await app.listen({ port: config.port, host: config.host });
    // Tells `tessera keys create` (same machine, data directory owner) how to reach this server.
    if (platform.dataDirLock && localAdminToken) {
      await platform.dataDirLock.publish({ adminUrl: localUrl(app.server.address(), config.host), adminToken: localAdminToken });
    }
  }
}

/** The listening address as this machine reaches it: loopback when listening on every address. */
function localUrl(address: AddressInfo | string | null, host: string): string {
  if (address === null || typeof address === 'string') throw new Error('the HTTP server is not listening on a TCP port');
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const ip = wildcard ? (address.family === 'IPv6' ? '::1' : '127.0.0.1') : address.address;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${address.port}`;
}

main().catch((err: unknown) => {
  process.stderr.write(`tessera: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
