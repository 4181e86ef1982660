/**
 * Trace context across the places Tessera hands work on: spans around a command and a job, and
 * the W3C `traceparent` carried in job data and sent on outbound webhooks. Only the OpenTelemetry
 * API is used here: without an SDK registered (tracing is off unless OTEL_* variables configure
 * it, see src/tracing/register.ts) every call is a no-op that costs a function call.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context } from '@opentelemetry/api';

const tracer = () => trace.getTracer('tessera');

/** The W3C trace headers of the active context (`traceparent`, `tracestate`); empty when no span is recording. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Runs `work` in a span; records a thrown error on it. `parent` continues a trace from elsewhere (job data). */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Record<string, string | undefined> },
  work: () => Promise<T>,
): Promise<T> {
  const parentContext = options.parent ? propagation.extract(context.active(), options.parent) : context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) }, parentContext, async (span) => {
    try {
      return await work();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active span's ids for log lines (pino mixin); empty outside a recording span. */
export function traceIdsForLog(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  if (!trace.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

export { SpanKind };
