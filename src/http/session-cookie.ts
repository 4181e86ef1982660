/**
 * The session cookie and the same-origin check, by hand: one cookie, read and written in a few
 * lines, is not worth a dependency (and @fastify/cookie's `cookie` 2.x needs Node 22).
 *
 * `tessera_session=<32 random bytes>; Path=/; HttpOnly; SameSite=Strict; Max-Age=<absolute expiry>`
 * plus `Secure` unless the request came over plain http to a loopback host (dev) — or as
 * TESSERA_COOKIE_SECURE says. HttpOnly: scripts (an XSS) cannot read it. SameSite=Strict: the
 * browser does not send it with any request another site starts, a second fence behind CSRF tokens.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'tessera_session';

/** The session cookie's value, if the request carries one. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function hostname(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
}

export function cookieIsSecure(request: FastifyRequest, mode: 'auto' | 'always' | 'never'): boolean {
  if (mode !== 'auto') return mode === 'always';
  return request.protocol === 'https' || !LOOPBACK.test(hostname(request.host));
}

export function setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number, secure: boolean): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure ? '; Secure' : ''}`);
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`);
}

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a browser request comes from this API's own origin (or a trusted one). The request's
 * `Origin` (every browser sends it on a cross-origin request and on POSTs), else its `Referer`,
 * must have this request's host (a TLS-terminating proxy may change the scheme, not the host) or
 * be a trusted origin; with neither header, `Sec-Fetch-Site: same-origin` is required. A request
 * naming no origin at all is refused: browsers always say where a write comes from.
 */
export function isSameOrigin(request: FastifyRequest, trustedOrigins: readonly string[]): boolean {
  const origin = typeof request.headers.origin === 'string' && request.headers.origin !== 'null' ? originOf(request.headers.origin) : undefined;
  const referer = typeof request.headers.referer === 'string' ? originOf(request.headers.referer) : undefined;
  const claimed = origin ?? referer;
  const fetchSite = request.headers['sec-fetch-site'];
  if (claimed === undefined) return fetchSite === 'same-origin';
  if (trustedOrigins.includes(claimed)) return true;
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return false;
  // Compare as URLs so default ports agree (`http://localhost` and Host `localhost:80`).
  const claimedUrl = new URL(claimed);
  try {
    return new URL(`${claimedUrl.protocol}//${request.host}`).host === claimedUrl.host;
  } catch {
    return false;
  }
}
