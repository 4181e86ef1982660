/**
 * Prometheus metrics over HTTP: `httpMetrics` times every request (by route pattern, never the
 * raw URL) and `metricsRoute` serves GET /metrics to a scraper (ops/scrape-access.ts).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../platform/metrics.js';
import { checkScrape, type ScrapeAccess } from '../ops/scrape-access.js';
import { sendProblem } from './problem-details.js';

/** Registered before the routes, at the root: every route (404s included) is timed. */
export const httpMetrics = fp<{ metrics: Metrics }>(
  async (app: FastifyInstance, { metrics }) => {
    app.addHook('onResponse', async (request, reply) => {
      // Unknown paths share one series: a scanner must not create a series per URL it tries.
      const route = request.is404 ? '(unmatched)' : (request.routeOptions.url ?? '(unmatched)');
      metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
  },
  { name: 'http-metrics' },
);

export async function metricsRoute(app: FastifyInstance, options: { metrics: Metrics; access: ScrapeAccess }) {
  app.get(
    '/metrics',
    {
      // Its own check (a scrape token is not an API key); a scraper is never rate-limited.
      config: { public: true, rateLimit: false },
      schema: { tags: ['system'], summary: 'Prometheus metrics (admin key or TESSERA_METRICS_TOKEN)', security: [{ apiKey: [] }] },
    },
    async (request, reply) => {
      const verdict = await checkScrape(request.headers.authorization, options.access);
      if (verdict === 'unauthenticated') {
        return sendProblem(reply, request, 'UNAUTHENTICATED', 'Send `Authorization: Bearer <token>` with TESSERA_METRICS_TOKEN or an admin API key to read /metrics');
      }
      if (verdict === 'forbidden') return sendProblem(reply, request, 'FORBIDDEN', 'Reading /metrics needs an admin key or TESSERA_METRICS_TOKEN');
      const text = await options.metrics.render();
      return reply.header('content-type', options.metrics.contentType).send(text);
    },
  );
}
