/** Driver errors are recognised here, once, and nowhere else (no `err.code === '23505'` in handlers). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | undefined;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/**
 * SQLSTATEs that mean "the server is going away or not taking sessions", not "your statement is
 * wrong": admin_shutdown (`pg_terminate_backend`, a fast shutdown), crash_shutdown,
 * cannot_connect_now (starting up, shutting down, in recovery), idle_session_timeout,
 * too_many_connections. Class 08 (connection exception) is matched by its prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300']);

/** Socket errors on the way to the server (refused, reset, timed out, unreachable, no such host). */
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * pg and kysely report a lost connection with plain Errors: the socket closed under a client
 * ("Connection terminated unexpectedly", "... due to connection timeout"), a query on a client that
 * already lost its connection, the pool's connection timeout, and kysely's discarded connection
 * (its rollback on a dead client failed).
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated\b/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^timeout exceeded when trying to connect$/,
  /^Postgres connection has been discarded$/,
];

/**
 * True when `err` says the database could not be reached or dropped the session — a failure of
 * the connection, not of the statement, so the same request may succeed once the database is
 * back (answered 503 with Retry-After; a job retries). Looks through `cause` and the `errors` of
 * an AggregateError (Node reports a refused connection to every address of a host that way).
 * Note that a commit whose connection broke may have committed: callers that retry a write send
 * the same Idempotency-Key.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; syscall?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (e.code.startsWith('08') && e.code.length === 5) return true;
    if (UNAVAILABLE_SQLSTATES.has(e.code) || UNAVAILABLE_SOCKET_CODES.has(e.code)) return true;
    // A Unix socket whose server is not running.
    if (e.code === 'ENOENT' && e.syscall === 'connect') return true;
  }
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((m) => m.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return e.cause !== undefined && isDatabaseUnavailable(e.cause, depth + 1);
}
