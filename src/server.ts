/**
 * The process edge: config, logger, platform, HTTP and/or workers by role, graceful shutdown.
 * The only place that exits the process.
 */
import { pino } from 'pino';
import { buildApp, type TesseraApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { loggerOptions } from './platform/logger.js';
import { openPlatform, type Platform } from './platform/platform.js';
import { SecretBoxError } from './platform/secret-box.js';
import { assembleCore } from './core.js';
import { startWorkers, type Workers } from './worker.js';

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
    throw err;
  }
  let app: TesseraApp | undefined;
  let workers: Workers | undefined;

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

  const core = await assembleCore({ database: platform.database, jobs: platform.jobs, logger, templatesDir: config.templatesDir });
  if (config.role !== 'api') workers = await startWorkers(platform, core, logger, { webhooks: config.webhooks });
  if (config.role !== 'worker') {
    app = await buildApp({ config, logger, database: platform.database, jobs: platform.jobs, secrets: platform.secrets, core });
    await app.listen({ port: config.port, host: config.host });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`tessera: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
