/**
 * OpenTelemetry bootstrap, loaded before the app with `node --import ./dist/src/tracing/register.js`
 * (instrumentations must patch http, pg and ioredis before they are imported). Off unless
 * configured by the standard variables: OTEL_TRACES_EXPORTER (e.g. `otlp`, `console`) or
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SDK_DISABLED=true wins.
 * The NodeSDK reads the rest (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...) itself.
 * Only the instrumentations Tessera needs (not auto-instrumentations-node's dozens).
 */
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';

const env = process.env;
const configured =
  env['OTEL_SDK_DISABLED'] !== 'true' &&
  ((env['OTEL_TRACES_EXPORTER'] !== undefined && env['OTEL_TRACES_EXPORTER'] !== 'none') ||
    env['OTEL_EXPORTER_OTLP_ENDPOINT'] !== undefined ||
    env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] !== undefined);

if (configured) {
  const sdk = new NodeSDK({
    serviceName: env['OTEL_SERVICE_NAME'] ?? 'tessera',
    instrumentations: [
      new HttpInstrumentation(),
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      // Redis commands only inside a trace: BullMQ's own polling would otherwise start a trace per command.
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  const stop = () => void sdk.shutdown().catch(() => {});
  process.once('beforeExit', stop);
}
