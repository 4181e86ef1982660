/**
 * A worker process (role=worker) has no HTTP API, so it serves its own /metrics on
 * TESSERA_METRICS_PORT — one scrape target per process, the way Prometheus expects: counters
 * stay per process and Prometheus sums them, nothing is pushed through Redis.
 * Same access rule as the API's route (ops/scrape-access.ts), without API key lookups.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../platform/metrics.js';
import { checkScrape, type ScrapeAccess } from './scrape-access.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(metrics: Metrics, access: ScrapeAccess, host: string, port: number): Promise<MetricsServer> {
  const problem = (res: http.ServerResponse, status: number, title: string, detail: string) => {
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method !== 'GET' || path !== '/metrics') return problem(res, 404, 'Not found', 'This port serves only GET /metrics');
    void (async () => {
      const verdict = await checkScrape(req.headers.authorization, access);
      if (verdict !== 'ok') return problem(res, 401, 'Missing or invalid token', 'Send `Authorization: Bearer <TESSERA_METRICS_TOKEN or TESSERA_ADMIN_KEY>`');
      const text = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
    })().catch(() => problem(res, 500, 'Metrics unavailable', 'Collecting the metrics failed; see the process log'));
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
