/**
 * The CLI's way into an embedded data directory that a running server holds: it asks the server
 * over HTTP, with the per-start admin token the server wrote into the directory's 0600 lock file
 * (see platform/data-dir-lock.ts). Opening the database files beside the server would lose the
 * write (PGlite keeps its own buffers).
 */
import type { Role } from '../cases/types.js';
import { describeHolder, type DataDirInUseError } from '../platform/data-dir-lock.js';

export interface KeyRequest {
  role: Role;
  userId: string;
  name: string;
  teams: readonly string[];
}

export interface CreatedKey {
  keyId: string;
  key: string;
  role: Role;
  userId: string;
  teams: readonly string[];
}

/** A refusal the CLI prints as it is and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const TIMEOUT_MS = 15_000;

/**
 * Sends one admin request to the server holding the data directory, or says exactly what to do
 * instead. Returns the parsed answer of a `expected` status.
 */
export async function callRunningServer(
  inUse: DataDirInUseError,
  request: { method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown; expected: number; what: string },
): Promise<{ answer: Record<string, unknown> | undefined; serverPid: number }> {
  const holder = inUse.holder;
  if (!holder?.adminUrl || !holder.adminToken) {
    throw new CliError(
      `${describeHolder(inUse.dataDir, holder)}, which does not take requests (yet). Try again when it has finished or is listening, or stop it first.`,
      3,
    );
  }
  const url = `${holder.adminUrl}${request.path}`;
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const instead =
    `With the server running, use its API: curl -X ${request.method} ${url} ` +
    `-H "authorization: Bearer $TESSERA_ADMIN_KEY"${body === undefined ? '' : ` -H 'content-type: application/json' -d '${request.path.includes('password') ? '{"password": "..."}' : body}'`}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: { authorization: `Bearer ${holder.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new CliError(`${describeHolder(inUse.dataDir, holder)}, but its API at ${holder.adminUrl} did not answer (${why}). ${instead}`, 1);
  }
  const answer = response.status === 204 ? undefined : ((await response.json().catch(() => undefined)) as Record<string, unknown> | undefined);
  if (response.status !== request.expected || (response.status !== 204 && answer === undefined)) {
    const detail = typeof answer?.detail === 'string' ? answer.detail : `HTTP ${response.status}`;
    throw new CliError(`the running server (process ${holder.pid}) refused ${request.what}: ${detail}`, 1);
  }
  return { answer, serverPid: holder.pid };
}

/** Creates the key through the server holding the data directory, or says exactly what to do instead. */
export async function createKeyOnRunningServer(inUse: DataDirInUseError, request: KeyRequest): Promise<CreatedKey & { serverPid: number }> {
  const body = { role: request.role, user_id: request.userId, name: request.name, ...(request.teams.length > 0 ? { teams: request.teams } : {}) };
  const { answer, serverPid } = await callRunningServer(inUse, { method: 'POST', path: '/v1/api-keys', body, expected: 201, what: 'the key' });
  return {
    keyId: String(answer!.id),
    key: String(answer!.key),
    role: answer!.role as Role,
    userId: String(answer!.user_id),
    teams: Array.isArray(answer!.teams) ? answer!.teams.map(String) : [],
    serverPid,
  };
}
