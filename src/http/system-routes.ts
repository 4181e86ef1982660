import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sendProblem } from './problem-details.js';

export interface Check {
  name: 'postgres' | 'redis';
  ping(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: Check): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { name: check.name, ok: true };
  } catch (err) {
    return { name: check.name, ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const CheckResult = Type.Object({ name: Type.String(), ok: Type.Boolean(), error: Type.Optional(Type.String()) });

/** Liveness (`/health`: the process answers) and readiness (`/ready`: its dependencies answer). */
export const systemRoutes: FastifyPluginAsyncTypebox<{ checks: Check[]; mode: string }> = async (app, options) => {
  app.get(
    '/health',
    {
      // Probes are never rate-limited: an orchestrator polling them must not be refused.
      config: { public: true, rateLimit: false },
      schema: { tags: ['system'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { public: true, rateLimit: false },
      schema: {
        tags: ['system'],
        summary: 'Readiness: Postgres and, in queue mode, Redis',
        response: { 200: Type.Object({ status: Type.Literal('ready'), mode: Type.String(), checks: Type.Array(CheckResult) }) },
      },
    },
    async (request, reply) => {
      const checks = await Promise.all(options.checks.map(runCheck));
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        return sendProblem(
          reply,
          request,
          'NOT_READY',
          `Not ready: ${failed.map((c) => `${c.name} (${c.error})`).join('; ')}`,
          { checks },
        );
      }
      return { status: 'ready' as const, mode: options.mode, checks };
    },
  );
};

/**
 * `tessera_ready` (1 ready, 0 not): the same checks as /ready, run at scrape time, so an alert
 * rule can see a process that answers /metrics while its dependencies do not.
 */
export function registerReadinessGauge(metrics: { gauge(name: string, help: string, read: () => Promise<number>): void }, checks: Check[]): void {
  metrics.gauge('tessera_ready', 'Readiness of this process: 1 when Postgres (and Redis in queue mode) answer, else 0', async () => {
    const results = await Promise.all(checks.map(runCheck));
    return results.every((r) => r.ok) ? 1 : 0;
  });
}
