/**
 * Tracing registered from inside the process, with a span exporter the caller chooses (a test's
 * InMemorySpanExporter): the same propagation and context as the NodeSDK of register.ts, and
 * Fastify's spans through its initialization channel (no module patching needed, so it works
 * after the app's modules are loaded). http/pg/ioredis client spans need register.ts instead.
 */
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export function startInProcessTracing(exporter: SpanExporter): { shutdown(): Promise<void> } {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const fastify = new FastifyOtelInstrumentation({ registerOnInitialization: true });
  fastify.setTracerProvider(provider);
  fastify.enable();
  return {
    async shutdown() {
      fastify.disable();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
