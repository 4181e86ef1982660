/**
 * Authentication (an API key or a browser session) and function-level authorization.
 *
 * Every route is authenticated unless its config says `public: true`; a route that names
 * `roles` refuses other roles with 403. Object-level rules (which cases an agent may see)
 * live in access.ts, applied by the commands and queries that load the object. Both credentials
 * end in the same `Principal`, so every route authorizes a session exactly as it does a key.
 *
 * - `Authorization: Bearer <key>` wins when present (API clients, the CLI); such requests are
 *   not exposed to CSRF (a browser never adds the header by itself).
 * - Otherwise the `tessera_session` cookie (see session-cookie.ts). A cookie-authenticated
 *   POST/PUT/PATCH/DELETE must carry `X-CSRF-Token` equal to the session's token AND come from
 *   this origin (Origin, else Referer, else `Sec-Fetch-Site: same-origin`): a cross-site form post
 *   carries the cookie but neither, and is refused before its body is read.
 *
 * Two steps: `onRequest` identifies the caller (or remembers why it could not), `preParsing`
 * refuses — before the body is read. The rate limiter runs between the two (rate-limit.ts), so
 * it counts per credential, and per client IP for requests whose credential is missing or wrong.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Role } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import { hashApiKey, type ApiKeyStore, type Principal } from '../persistence/api-key-store.js';
import { nonUserPrincipal } from '../people/principal.js';
import type { SessionIssuer } from '../commands/session-issuer.js';
import { principalOfUser } from '../persistence/user-store.js';
import { isSameOrigin, sessionCookieOf } from './session-cookie.js';

export interface RequestSession {
  idHash: string;
  csrfToken: string;
  expiresAt: Date;
  idleExpiresAt: Date;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No API key needed (health, docs, signed webhooks). */
    public?: boolean;
    /** Roles allowed; absent means any authenticated role. */
    roles?: readonly Role[];
  }
  interface FastifyRequest {
    principal: Principal;
    /** The browser session the request came with; null for API-key requests. */
    session: RequestSession | null;
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
  sessions: SessionIssuer;
  /** Origins besides the request's own host that may send cookie-authenticated writes. */
  trustedOrigins: readonly string[];
}

const BEARER = /^Bearer\s+(\S+)$/i;

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(hashApiKey(a), 'hex');
  const right = Buffer.from(hashApiKey(b), 'hex');
  return timingSafeEqual(left, right);
}

async function authenticate(request: FastifyRequest, options: AuthOptions): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined) {
    const token = sessionCookieOf(request);
    if (token !== undefined) return authenticateSession(request, token, options);
  }
  const match = header ? BEARER.exec(header) : null;
  if (!match) {
    throw new TesseraError('UNAUTHENTICATED', 'Send an API key as `Authorization: Bearer <key>` (create one with `tessera keys create`), or sign in with POST /v1/sessions');
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

async function authenticateSession(request: FastifyRequest, token: string, options: AuthOptions): Promise<Principal> {
  const session = await options.sessions.resolve(token);
  if (!session) throw new TesseraError('UNAUTHENTICATED', 'Your session has ended (signed out, expired, or revoked); sign in again with POST /v1/sessions');
  request.session = { idHash: session.idHash, csrfToken: session.csrfToken, expiresAt: session.expiresAt, idleExpiresAt: session.idleExpiresAt };
  return principalOfUser(session.user, { via: 'session', keyId: `session:${session.idHash.slice(0, 16)}` });
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Refuses a cookie-authenticated write that lacks the session's CSRF token or comes from another origin. */
function checkCsrf(request: FastifyRequest, session: RequestSession, trustedOrigins: readonly string[]): void {
  if (!isSameOrigin(request, trustedOrigins)) {
    throw new TesseraError('CSRF_REFUSED', 'A signed-in browser may change things only from this site: the request came from another origin (Origin / Referer / Sec-Fetch-Site); nothing was changed');
  }
  const sent = request.headers['x-csrf-token'];
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new TesseraError('CSRF_REFUSED', 'Send the session\'s csrf_token (from POST /v1/sessions or GET /v1/sessions/current) in the X-CSRF-Token header; nothing was changed');
  }
}

const refusal = Symbol('tessera.auth.refusal');

function isOpen(request: FastifyRequest): boolean {
  return request.routeOptions.config.public === true || request.is404;
}

export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null as unknown as Principal);
    app.decorateRequest('session', null);
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
      if (request.session && STATE_CHANGING.has(request.method)) checkCsrf(request, request.session, options.trustedOrigins);
      const roles = request.routeOptions.config.roles;
      if (roles && !roles.includes(request.principal.role)) {
        throw new TesseraError('FORBIDDEN', `This action needs one of the roles: ${roles.join(', ')}; you act as ${request.principal.role}`);
      }
      return payload;
    });
  },
  { name: 'auth' },
);
