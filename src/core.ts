/**
 * The Tessera core a process runs with: the definition catalog (files published to Postgres,
 * then every stored version), the pure engine, the command runner and the relay.
 * The server, the worker and the tests assemble it the same way.
 */
import type { Logger } from 'pino';
import { createEngine, type Engine } from './cases/engine.js';
import { recordCommands } from './cases/command-record.js';
import { createCatalog, type Catalog } from './commands/catalog.js';
import { createCommandRunner, type CommandRunner, type CommittedEffects, type CustomerValueLookup } from './commands/run-command.js';
import { createDeviationFirer, type DeviationFireOutcome } from './commands/fire-deviation-timer.js';
import { createSentimentAnalyzer, loadWinkModel, type SentimentAnalyzer } from './signals/sentiment.js';
import { customerValueOf } from './persistence/customer-value.js';
import { loadStoredDefinitions, publishDefinitions } from './persistence/definition-store.js';
import { createDbClock, type DbClock } from './persistence/db-clock.js';
import type { DatabaseHandle } from './platform/database.js';
import type { JobQueue } from './platform/job-queue.js';
import { createRelay, type Relay } from './relay/relay.js';
import { loadCatalog } from './templates/load-catalog.js';
import { createWorkRouter, type WorkRouter } from './commands/route-work.js';
import { formatProblems } from './templates/load-problem.js';
import { createCatalogSync, readCatalogRevision, type CatalogSync } from './commands/catalog-sync.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { commandObserver, instrumentRunner } from './ops/command-metrics.js';
import { registerStateGauges } from './ops/state-gauges.js';

export interface Core {
  catalog: Catalog;
  /** Sees versions published at runtime by any process (commands/catalog-sync.ts). */
  catalogSync: CatalogSync;
  engine: Engine;
  runner: CommandRunner;
  /** Next work and supervisor push (commands/route-work.ts). */
  work: WorkRouter;
  relay: Relay;
  /**
   * The database's time as this process estimates it (or the clock a test injected): for
   * time-based views and early checks. Commands read the exact database time themselves.
   */
  now: () => Date;
  /** This process's clock, corrected by the offset to the database's clock it has learned. */
  clock: DbClock;
  /** Fires a behaviour-deviation trip wire (a command on the customer; may open a retention case). */
  fireDeviationTimer: (timer: { timerId: string; customerId: string }) => Promise<DeviationFireOutcome>;
  /** The process's one sentiment analyzer (the engine's; intake scores posts with it before its rules decide). */
  sentiment: SentimentAnalyzer;
  /**
   * Adds an after-commit listener (the change feed of live streams, projections); the relay is
   * the first. Listeners get what every command transaction committed and must not throw.
   * Returns a function that removes it.
   */
  onCommitted: (listener: CommitListener) => () => void;
  /** The process's Prometheus metrics (GET /metrics); others register gauges on it. */
  metrics: Metrics;
}

/** Told after commit what a command transaction wrote (commands/run-command.ts CommittedEffects). */
export type CommitListener = (committed: CommittedEffects[]) => void;

export interface CoreOptions {
  database: DatabaseHandle;
  jobs: JobQueue;
  logger: Logger;
  templatesDir: string;
  /** A fixed clock for tests that move time (commands decide at it instead of the database's time). */
  now?: () => Date;
  /** The local clock (default: `Date.now`, or skewed by `TESSERA_TEST_CLOCK_SKEW_MS` under `NODE_ENV=test`). */
  localClock?: () => number;
  /** Customer value percentiles for the priority score (default: the customers store's percentiles, persistence/customer-value.ts). */
  customerValue?: CustomerValueLookup;
  /** The sentiment analyzer (default: wink-eng-lite-web-model, loaded here once per process). */
  sentiment?: SentimentAnalyzer;
  /**
   * Group commit for commands (commands/run-command.ts, runGroup): on by default against Postgres,
   * off on the embedded database (one session: a group would only queue behind itself). `false` turns it off.
   * `writtenCases`: how many cases it keeps its last write of (commands/written-cases.ts; 0: none, default 2,000).
   */
  groupCommit?: false | { maxBatch?: number; maxInFlight?: number; writtenCases?: number };
  /** The process's metrics registry (default: a new one). */
  metrics?: Metrics;
}

/**
 * Publishes the catalog files and assembles the core. Files with problems are logged and left
 * out — a broken file must not take running cases down — and a file changed under a published
 * version is ignored in favour of the stored copy; running cases keep their definitions either way.
 */
export async function assembleCore(options: CoreOptions): Promise<Core> {
  const { database, logger } = options;
  const loaded = await loadCatalog(options.templatesDir);
  if (loaded.problems.length > 0) {
    logger.error({ problems: loaded.problems.length }, `case templates with problems were left out:\n${formatProblems(loaded.problems)}`);
  }
  const publishProblems = await publishDefinitions(database.db, loaded);
  if (publishProblems.length > 0) {
    logger.error(`changed files under published versions were ignored (the stored versions run):\n${formatProblems(publishProblems)}`);
  }
  // Read before the definitions, so a publish in between is loaded again at the next sync.
  const revision = await readCatalogRevision(database.db);
  const stored = await loadStoredDefinitions(database.db);
  const catalog = createCatalog(stored);
  const catalogSync = createCatalogSync(catalog, revision);
  logger.info({ templates: catalog.templates().map((t) => `${t.key}@${t.version}`) }, 'catalog loaded');

  // The sentiment model loads once per process (~0.4 s); every decision shares the analyzer.
  const sentiment = options.sentiment ?? createSentimentAnalyzer(loadWinkModel());
  // Every changing decision carries its command record, stored for plan-as-of and conformance replay.
  const engine = recordCommands(createEngine({ sentiment }));
  const clock = createDbClock(options.localClock);
  // Learn the offset before the first timer is armed (the relay's delays count from it).
  await clock.sync(database.db);
  const relay = createRelay({ db: database.db, jobs: options.jobs, logger, clock, ...(options.now ? { now: options.now } : {}) });
  // The after-commit hand-over is a list of listeners: the relay first, then the change feed's.
  const commitListeners: CommitListener[] = [(committed) => relay.handOver(committed)];
  const afterCommit = (committed: CommittedEffects[]) => {
    for (const listener of commitListeners) {
      try {
        listener(committed);
      } catch (err) {
        logger.error({ err }, 'an after-commit listener threw (it must not)');
      }
    }
  };
  const onCommitted = (listener: CommitListener) => {
    commitListeners.push(listener);
    return () => {
      const at = commitListeners.indexOf(listener);
      if (at >= 0) commitListeners.splice(at, 1);
    };
  };
  const metrics = options.metrics ?? createMetrics();
  registerStateGauges(metrics, { db: database.db, database, jobs: options.jobs, logger });
  const runner = instrumentRunner(createCommandRunner({
    db: database.db,
    engine,
    catalog,
    clock,
    afterCommit,
    ...(options.now ? { now: options.now } : {}),
    // The customer's value percentiles over the customer base, read in the command's transaction.
    customerValue: options.customerValue ?? customerValueOf,
    ...groupCommitOption(options),
    syncCatalog: (db) => catalogSync.sync(db),
    observe: commandObserver(metrics),
  }), metrics);
  const work = createWorkRouter({ db: database.db, runner });
  const fireDeviationTimer = createDeviationFirer({
    db: database.db,
    engine,
    catalog,
    clock,
    afterCommit,
    handOverOutbox: (ids) => relay.handOverOutbox(ids),
    ...(options.now ? { now: options.now } : {}),
  });
  return { catalog, engine, runner, work, relay, clock, now: options.now ?? clock.now, fireDeviationTimer, sentiment, onCommitted, catalogSync, metrics };
}

function groupCommitOption(options: CoreOptions): { groupCommit?: { maxBatch?: number; maxInFlight?: number; writtenCases?: number } } {
  if (options.groupCommit === false || options.database.kind !== 'postgres') return {};
  return { groupCommit: options.groupCommit ?? {} };
}
