/**
 * The web UI (src/ui, built by Vite into dist/ui) served by the API process itself at `/`.
 *
 * - `/assets/*`: the hashed bundles, cached for a year (their names change with their content).
 * - Every other GET that is not an API path (`/`, `/inbox`, `/cases/…`, `/console/…`) answers
 *   `index.html`, so a reload or a pasted link opens the right screen (history-API routing).
 *   API paths (`/v1`, `/docs`, `/openapi.json`, `/health`, `/ready`, `/metrics`) never fall back:
 *   an unknown one stays the problem+json 404 an integrator expects.
 * - A strict Content-Security-Policy on every UI response: scripts, styles and connections only
 *   from this origin, no inline script, no plugins, no framing. User content is rendered as
 *   text by Preact; the policy is the second fence should that ever fail.
 *
 * The pages are public (the app asks `GET /v1/sessions/current` and shows sign-in when there is
 * no session): the data behind them is what the API authorizes.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem-details.js';

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths that belong to the API and its docs: never answered with the UI. */
const API_PATHS = /^\/(v1|docs|openapi\.json|health|ready|metrics)(\/|$|\?)/;

/** dist/ui, whether this file runs from src/http (tsx, tests) or dist/src/http (npm start). */
export function defaultUiRoot(): string {
  const up = fileURLToPath(new URL('../../', import.meta.url));
  return basename(up) === 'dist' ? join(up, 'ui') : join(up, 'dist', 'ui');
}

function secure(reply: { header(name: string, value: string): unknown }): void {
  reply.header('content-security-policy', UI_CONTENT_SECURITY_POLICY);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'same-origin');
  reply.header('x-frame-options', 'DENY');
}

export const uiRoutes: FastifyPluginAsync<{ root?: string }> = async (app, options) => {
  const root = options.root ?? defaultUiRoot();
  const built = () => existsSync(join(root, 'index.html'));

  await app.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/assets/',
    index: false,
    // The bundles' names carry their hash: cache them for good.
    immutable: true,
    maxAge: '365d',
    setHeaders: (res) => secure({ header: (n, v) => res.setHeader(n, v) }),
    decorateReply: true,
  });

  const page = async (path: string, reply: FastifyReply) => {
    secure(reply);
    // index.html names the current bundles: never cached.
    reply.header('cache-control', 'no-cache');
    return reply.sendFile(path, root, { cacheControl: false });
  };

  app.get('/favicon.svg', { config: { public: true }, schema: { hide: true } }, (request, reply) => {
    if (!existsSync(join(root, 'favicon.svg'))) return reply.callNotFound();
    secure(reply);
    reply.header('cache-control', 'public, max-age=86400');
    return reply.sendFile('favicon.svg', root, { cacheControl: false });
  });

  const index = async (request: FastifyRequest, reply: FastifyReply) => {
    if (API_PATHS.test(request.url)) return reply.callNotFound();
    if (!built()) {
      return sendProblem(reply, request, 'UI_NOT_BUILT', `The web UI has not been built into ${root}; run \`npm run build\` (npm ci runs it), then reload`);
    }
    return page('index.html', reply);
  };
  app.get('/', { config: { public: true }, schema: { hide: true } }, (request, reply) => index(request, reply));
  // Every other GET that no route answers: a screen of the UI, unless it is an API path.
  app.get('/*', { config: { public: true }, schema: { hide: true } }, (request, reply) => index(request, reply));
};
