/**
 * API-key authentication and function-level authorization.
 *
 * Every route is authenticated unless its config says `public: true`; a route that names
 * `roles` refuses other roles with 403. Object-level rules (which cases an agent may see)
 * live in access.ts, applied by the commands and queries that load the object.
 *
 * Two steps: `onRequest` identifies the caller (or remembers why it could not), `preParsing`
 * refuses — before the body is read. The rate limiter runs between the two (rate-limit.ts), so
 * it counts per API key, and per client IP for requests whose key is missing or wrong.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Role } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import { hashApiKey, type ApiKeyStore, type Principal } from '../persistence/api-key-store.js';
import { nonUserPrincipal } from '../people/principal.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No API key needed (health, docs, signed webhooks). */
    public?: boolean;
    /** Roles allowed; absent means any authenticated role. */
    roles?: readonly Role[];
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface AuthOptions {
  apiKeys: ApiKeyStore;
  /** TESSERA_ADMIN_KEY: an admin that needs no row, to create the first keys. */
  adminKey: string | undefined;
  /**
   * Embedded mode: this start's admin token, written only into the 0600 lock file of the data
   * directory (data-dir-lock.ts), so `tessera keys create` can ask the running server. New at
   * every start, never stored in the database.
   */
  localAdminToken?: string | undefined;
}

const BEARER = /^Bearer\s+(\S+)$/i;

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(hashApiKey(a), 'hex');
  const right = Buffer.from(hashApiKey(b), 'hex');
  return timingSafeEqual(left, right);
}

async function authenticate(request: FastifyRequest, options: AuthOptions): Promise<Principal> {
  const header = request.headers.authorization;
  const match = header ? BEARER.exec(header) : null;
  if (!match) {
    throw new TesseraError('UNAUTHENTICATED', 'Send an API key as `Authorization: Bearer <key>` (create one with `tessera keys create`)');
  }
  const key = match[1]!;
  if (options.adminKey !== undefined && sameSecret(key, options.adminKey)) {
    return nonUserPrincipal({ kind: 'operator', keyId: 'bootstrap-admin', userId: 'admin', role: 'admin' });
  }
  if (options.localAdminToken !== undefined && sameSecret(key, options.localAdminToken)) {
    return nonUserPrincipal({ kind: 'operator', keyId: 'local-admin', userId: 'local-admin', role: 'admin' });
  }
  const principal = await options.apiKeys.findByKey(key);
  if (!principal) throw new TesseraError('UNAUTHENTICATED', 'The API key is unknown or revoked; check it or create a new one');
  return principal;
}

const refusal = Symbol('tessera.auth.refusal');

function isOpen(request: FastifyRequest): boolean {
  return request.routeOptions.config.public === true || request.is404;
}

export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null as unknown as Principal);
    app.decorateRequest(refusal, null);
    app.addHook('onRequest', async (request) => {
      if (isOpen(request)) return;
      try {
        request.principal = await authenticate(request, options);
      } catch (err) {
        (request as unknown as Record<symbol, unknown>)[refusal] = err;
      }
    });
    app.addHook('preParsing', async (request, _reply, payload) => {
      if (isOpen(request)) return payload;
      const refused = (request as unknown as Record<symbol, unknown>)[refusal];
      if (refused) throw refused;
      const roles = request.routeOptions.config.roles;
      if (roles && !roles.includes(request.principal.role)) {
        throw new TesseraError('FORBIDDEN', `This action needs one of the roles: ${roles.join(', ')}; your key has role ${request.principal.role}`);
      }
      return payload;
    });
  },
  { name: 'auth' },
);
