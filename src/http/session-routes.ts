/**
 * Sign-in for browsers: `POST /v1/sessions` checks a username and password and hands the user
 * to the session layer (commands/session-issuer.ts), which knows nothing of passwords.
 *
 * - Unknown username, no password set, disabled user and wrong password answer the same 401
 *   after the same work (a scrypt hash is computed in every case), so neither the answer nor
 *   its timing tells which usernames exist.
 * - Failed attempts are counted per username and per client address (sign-in-throttle.ts);
 *   over the limit the answer is 429 with Retry-After, before any password is checked.
 * - Every failure is logged (username, address, why) — never the password: the body is not
 *   logged, and `password` is a redacted field should it ever be.
 * - A sign-in from another site (login CSRF: signing a victim into the attacker's account) is
 *   refused by the same Origin check that guards cookie-authenticated writes.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SessionConfig } from '../config.js';
import type { SessionIssuer } from '../commands/session-issuer.js';
import { TesseraError } from '../errors.js';
import type { UserStore } from '../persistence/user-store.js';
import { MAX_PASSWORD_BYTES, verifyPassword } from '../platform/password-hash.js';
import { clearSessionCookie, cookieIsSecure, isSameOrigin, sessionCookieOf, setSessionCookie } from './session-cookie.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import { userView } from './user-routes.js';

const SessionView = Type.Object({
  user: Type.Object({}, { additionalProperties: true, description: 'the signed-in user (as GET /v1/users/:id shows them to themselves)' }),
  csrf_token: Type.String({ description: 'send it as X-CSRF-Token on every POST, PUT, PATCH and DELETE made with the session cookie' }),
  expires_at: Type.String({ format: 'date-time', description: 'absolute expiry: sign in again after it' }),
  idle_expires_at: Type.String({ format: 'date-time', description: 'the session ends if unused until then (each use moves it on)' }),
});

const failed = () => new TesseraError('SIGN_IN_FAILED', 'Unknown username or wrong password; check both and try again');

export const sessionRoutes: FastifyPluginAsyncTypebox<{ users: UserStore; sessions: SessionIssuer; throttle: SignInThrottle; config: SessionConfig }> = async (
  app,
  { users, sessions, throttle, config },
) => {
  app.post(
    '/v1/sessions',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign in (browsers): sets the httpOnly session cookie and returns the CSRF token',
        security: [],
        body: Type.Object(
          { username: Type.String({ minLength: 1, maxLength: 200 }), password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_BYTES }) },
          { additionalProperties: false },
        ),
        response: { 201: SessionView },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const ip = request.ip;
      if (!isSameOrigin(request, config.trustedOrigins) && (request.headers.origin !== undefined || request.headers.referer !== undefined || request.headers['sec-fetch-site'] !== undefined)) {
        request.log.warn({ event: 'sign_in_failed', username, ip, why: 'cross_site' }, 'sign-in refused: the request came from another site');
        throw new TesseraError('CSRF_REFUSED', 'Sign in from this site: the request came from another origin');
      }
      const wait = await throttle.blockedFor(username, ip);
      if (wait !== undefined) {
        request.log.warn({ event: 'sign_in_failed', username, ip, why: 'throttled' }, 'sign-in refused: too many failed attempts');
        reply.header('retry-after', String(wait));
        throw new TesseraError('RATE_LIMITED', `Too many failed sign-ins for this username or from this address; try again in ${wait} s`);
      }
      const found = await users.findCredentials(username);
      // Always hash, so an unknown user costs what a wrong password does.
      const matches = await verifyPassword(password, found?.passwordHash);
      const why = !found ? 'unknown_user' : found.user.disabledAt ? 'disabled' : !found.passwordHash ? 'no_password' : !matches ? 'wrong_password' : undefined;
      if (why !== undefined || !found) {
        await throttle.recordFailure(username, ip);
        request.log.warn({ event: 'sign_in_failed', username, ip, why }, 'sign-in failed');
        throw failed();
      }
      await throttle.clear(username);
      const session = await sessions.issue(found.user, { userAgent: request.headers['user-agent'] });
      const secure = cookieIsSecure(request, config.cookieSecure);
      setSessionCookie(reply, session.token, (session.expiresAt.getTime() - session.createdAt.getTime()) / 1000, secure);
      request.log.info({ event: 'signed_in', user_id: found.user.id, ip }, 'signed in');
      return reply.code(201).send({
        user: userView(found.user),
        csrf_token: session.csrfToken,
        expires_at: session.expiresAt.toISOString(),
        idle_expires_at: session.idleExpiresAt.toISOString(),
      });
    },
  );

  app.get(
    '/v1/sessions/current',
    {
      schema: {
        tags: ['auth'],
        summary: 'The session the cookie names: the user and the CSRF token (a page reload gets it back here)',
        security: [{ session: [] }],
        response: { 200: SessionView },
      },
    },
    async (request) => {
      const session = request.session;
      if (!session) throw new TesseraError('NOT_FOUND', 'This request carries an API key, not a session; sessions come from POST /v1/sessions');
      const user = await users.find(request.principal.userId);
      if (!user) throw new TesseraError('NOT_FOUND', 'The session has no user any more');
      return { user: userView(user), csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString(), idle_expires_at: session.idleExpiresAt.toISOString() };
    },
  );

  app.delete(
    '/v1/sessions/current',
    {
      schema: { tags: ['auth'], summary: 'Sign out: ends the session and clears the cookie (X-CSRF-Token required)', security: [{ session: [] }] },
    },
    async (request, reply) => {
      const token = sessionCookieOf(request);
      if (!request.session || token === undefined) throw new TesseraError('NOT_FOUND', 'This request carries an API key, not a session; there is nothing to sign out of');
      await sessions.end(token);
      clearSessionCookie(reply, cookieIsSecure(request, config.cookieSecure));
      request.log.info({ event: 'signed_out', user_id: request.principal.userId }, 'signed out');
      return reply.code(204).send();
    },
  );
};
