/**
 * Polls GET /health over a real socket while something else runs in the same process, so a
 * test can show the event loop kept answering (an evaluation pinning the loop would stall it).
 */
import type { FastifyInstance } from 'fastify';

export interface HealthWatch {
  /** Stops polling; every answer's status and the slowest round trip. */
  stop(): Promise<{ answers: number; failures: number; slowestMs: number }>;
}

export async function watchHealth(app: FastifyInstance, everyMs = 20): Promise<HealthWatch> {
  const address = app.server.listening ? undefined : await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${address ?? `http://127.0.0.1:${(app.server.address() as { port: number }).port}`}/health`;
  let running = true;
  let answers = 0;
  let failures = 0;
  let slowestMs = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status === 200) answers += 1;
        else failures += 1;
      } catch {
        failures += 1;
      }
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { answers, failures, slowestMs };
    },
  };
}
