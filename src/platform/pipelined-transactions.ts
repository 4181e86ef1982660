/**
 * Transactions in two round trips instead of four. Kysely opens a transaction with `begin` and
 * ends it with `commit`, each a round trip of its own; on the command path they are half of the
 * transaction's latency (BEGIN, lock, write, COMMIT — bench/engine.ts, README "Performance").
 * On a pooled connection this module defers the `begin` and sends it in the same message batch
 * as the transaction's first statement (extended protocol: Parse/Bind/Execute BEGIN, then the
 * statement, then one Sync), and a statement marked {@link COMMITS_MARK} is followed by COMMIT in
 * its batch, so Kysely's own `commit` afterwards is answered here without a round trip.
 *
 * What the server sees is the same transaction: BEGIN, the statements, COMMIT, in that order on
 * one session. A failing statement makes the server skip the rest of its batch (a pipelined
 * COMMIT never runs after an error) and leaves the transaction aborted for Kysely's `rollback`.
 * A statement that commits must be the transaction's last act: nothing after it can be rolled
 * back, and a `rollback` Kysely sends after it (the callback threw) is refused loudly.
 *
 * It relies on pg's Query (exported; `client.query` takes any object with `submit`) and on the
 * connection's protocol writers it uses itself (parse, bind, execute, sync); test/platform/
 * pipelined-transactions.test.ts holds the behaviour, so an upgrade of pg that changes them fails there.
 */
import pg from 'pg';
import { COMMITS_MARK } from '../persistence/prepared-statement.js';

type Callback = (err: Error | null, result?: unknown) => void;

/** The parts of pg's Query and its connection this module drives (not in pg's type declarations). */
interface ProtocolConnection {
  parse(config: { text: string; name?: string }): void;
  bind(config: object): void;
  execute(config: { portal?: string; rows?: number }): void;
  sync(): void;
  parsedStatements: Record<string, string>;
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
}
interface QueryInternals {
  name?: string;
  portal: string;
  _results: unknown;
  prepare(connection: ProtocolConnection): void;
  _getRows(connection: ProtocolConnection, rows: number | undefined): void;
  handleError(err: Error, connection: ProtocolConnection): void;
  handleReadyForQuery(connection: ProtocolConnection): void;
  hasBeenParsed(connection: ProtocolConnection): boolean;
}

const QueryBase = pg.Query as unknown as new (config: object, values: undefined, callback: Callback) => QueryInternals;

/** One statement with BEGIN before it and/or COMMIT after it, all in one batch ending in Sync. */
class PipelinedQuery extends QueryBase {
  /** ParseComplete messages seen, while it matters (see handleError). */
  private parsed = 0;
  private countParsed: (() => void) | undefined;

  constructor(
    config: { text: string; values: unknown[]; name?: string },
    private readonly begins: boolean,
    private readonly commits: boolean,
    callback: Callback,
  ) {
    super(config, undefined, callback);
  }

  override prepare(connection: ProtocolConnection): void {
    if (this.begins) {
      connection.parse({ text: 'begin' });
      connection.bind({});
      connection.execute({});
      // pg records a named statement as parsed on the first ParseComplete of its batch — here
      // BEGIN's, before the statement's own Parse has run. Count them to know which one failed.
      if (this.name && !this.hasBeenParsed(connection)) {
        this.countParsed = () => void this.parsed++;
        connection.on('parseComplete', this.countParsed);
      }
    }
    super.prepare(connection);
  }

  override _getRows(connection: ProtocolConnection, rows: number | undefined): void {
    if (!this.commits || rows) return super._getRows(connection, rows);
    connection.execute({ portal: this.portal });
    connection.parse({ text: 'commit' });
    connection.bind({});
    connection.execute({});
    connection.sync();
  }

  override handleError(err: Error, connection: ProtocolConnection): void {
    // The statement's own Parse failed (only BEGIN's completed): it is not parsed after all.
    if (this.countParsed && this.parsed < 2) delete connection.parsedStatements[this.name!];
    this.stopCounting(connection);
    super.handleError(err, connection);
  }

  private stopCounting(connection: ProtocolConnection): void {
    if (this.countParsed) connection.removeListener('parseComplete', this.countParsed);
    this.countParsed = undefined;
  }

  override handleReadyForQuery(connection: ProtocolConnection): void {
    this.stopCounting(connection);
    // pg collects one result per completed command: [BEGIN?, the statement, COMMIT?].
    const all = (Array.isArray(this._results) ? this._results : [this._results]) as { command: string }[];
    const commit = this.commits ? all.at(-1) : undefined;
    this._results = all[this.begins ? 1 : 0];
    if (commit && commit.command !== 'COMMIT') {
      // COMMIT of an aborted transaction answers ROLLBACK: nothing was committed.
      return super.handleError(new Error(`the transaction was rolled back at its commit (${commit.command})`), connection);
    }
    super.handleReadyForQuery(connection);
  }
}

type QueryFn = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/** Result of a transaction command answered here (the shape Kysely reads of pg's). */
const answered = (command: string) => ({ command, rowCount: null, rows: [], fields: [] });

/**
 * Wraps `client.query` of a pooled client. `named(text)` gives a prepared statement's name for a
 * text (or undefined to run it unnamed), as database.ts decides.
 */
export function pipelineTransactions(client: pg.PoolClient, named: (text: string) => string | undefined): void {
  const query = client.query.bind(client) as QueryFn;
  /** Kysely said `begin`; nothing was sent yet. */
  let beginPending = false;
  /** The last statement committed the transaction; Kysely's `commit` is answered here. */
  let committed = false;

  function pipelined(text: string, values: unknown[], commits: boolean): Promise<unknown> {
    const begins = beginPending;
    beginPending = false;
    const body = commits ? text.replace(COMMITS_MARK, '') : text;
    const name = named(body);
    return new Promise((resolve, reject) => {
      const submitted = new PipelinedQuery({ text: body, values, ...(name ? { name } : {}) }, begins, commits, (err, result) => {
        if (err) return reject(err);
        if (commits) committed = true;
        resolve(result);
      });
      query(submitted);
    });
  }

  /** Sends the deferred BEGIN on its own; pg queues it ahead of whatever is sent next. */
  function sendBegin(): void {
    beginPending = false;
    void (query('begin') as Promise<unknown>).catch(() => {});
  }

  (client as unknown as { query: QueryFn }).query = (config, values, callback) => {
    // Kysely sends everything as (text, values) and awaits the promise; anything else goes as it
    // came, after the deferred BEGIN (the order on the wire holds).
    if (typeof config !== 'string' || typeof values === 'function' || callback !== undefined) {
      if (beginPending) sendBegin();
      return query(config, values, callback);
    }
    const command = config.trim().toLowerCase();
    if (command === 'begin') {
      beginPending = true;
      committed = false;
      return Promise.resolve(answered('BEGIN'));
    }
    if (command === 'commit' && (beginPending || committed)) {
      // Nothing was sent since `begin`, or the last statement committed already.
      beginPending = committed = false;
      return Promise.resolve(answered('COMMIT'));
    }
    if (command === 'rollback' && beginPending) {
      beginPending = false;
      return Promise.resolve(answered('ROLLBACK'));
    }
    if (command === 'rollback' && committed) {
      committed = false;
      return Promise.reject(new Error('rollback after a statement that committed the transaction: its writes stand'));
    }
    committed = false;
    // Only a statement with parameters goes pipelined: one without may hold several commands,
    // which the extended protocol refuses (a migration's), so BEGIN goes ahead of it on its own.
    const params = Array.isArray(values) && values.length > 0 ? (values as unknown[]) : undefined;
    const commits = config.includes(COMMITS_MARK);
    if (params && (beginPending || commits)) return pipelined(config, params, commits);
    if (beginPending) sendBegin();
    const name = named(config);
    return name ? query({ name, text: config, values }) : query(config, values);
  };
}
