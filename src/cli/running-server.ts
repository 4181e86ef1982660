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

/** Creates the key through the server holding the data directory, or says exactly what to do instead. */
export async function createKeyOnRunningServer(inUse: DataDirInUseError, request: KeyRequest): Promise<CreatedKey & { serverPid: number }> {
  const holder = inUse.holder;
  const body = { role: request.role, user_id: request.userId, name: request.name, ...(request.teams.length > 0 ? { teams: request.teams } : {}) };
  if (!holder?.adminUrl || !holder.adminToken) {
    throw new CliError(
      `${describeHolder(inUse.dataDir, holder)}, which does not take requests (yet). Try again when it has finished or is listening, or stop it first.`,
      3,
    );
  }
  const url = `${holder.adminUrl}/v1/api-keys`;
  const instead =
    `With the server running, create the key over its API: curl -X POST ${url} ` +
    `-H "authorization: Bearer $TESSERA_ADMIN_KEY" -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new CliError(`${describeHolder(inUse.dataDir, holder)}, but its API at ${holder.adminUrl} did not answer (${why}). ${instead}`, 1);
  }
  const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (response.status !== 201 || answer === undefined) {
    const detail = typeof answer?.detail === 'string' ? answer.detail : `HTTP ${response.status}`;
    throw new CliError(`the running server (process ${holder.pid}) refused the key: ${detail}`, 1);
  }
  return {
    keyId: String(answer.id),
    key: String(answer.key),
    role: answer.role as Role,
    userId: String(answer.user_id),
    teams: Array.isArray(answer.teams) ? answer.teams.map(String) : [],
    serverPid: holder.pid,
  };
}
