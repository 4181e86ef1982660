/**
 * Redaction of what a log line carries: the value of every sensitive key is replaced, wherever
 * the key sits (up to {@link MAX_DEPTH} levels down), before pino serializes the line.
 *
 * This replaces pino's `redact` paths. Covering a key at every level took three wildcard paths per
 * key (`k`, `*.k`, `*.*.k`; 65 paths in all), and @pinojs/redact walks the logged object once for
 * each wildcard path, allocating as it goes. An allocation profile of the API at 300 event
 * commands/s (2026-12-02) put 36 % of the main thread's allocation in that redaction: ~110 kB per
 * request, for the completion line and the request's child logger, neither of which holds
 * anything sensitive. This walk visits the object once. It allocates only when it finds something
 * to replace, and then copies only the objects on the way to it: a logged object is never changed.
 */

export const CENSOR = '[redacted]';

/** Levels of nesting searched: `{ a: { b: { c: { key } } } }` is four. */
const MAX_DEPTH = 4;

/**
 * Walks plain objects, arrays and errors. Any other class instance (a Fastify request or reply, a
 * socket, a Date, a Buffer) has a serializer of its own or nothing of interest, and walking it
 * could mean walking the whole process.
 */
function walkable(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Error) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A copy that keeps what pino's error serializer reads: the class, the message and the stack. */
function shallowCopy(value: Record<string, unknown>): Record<string, unknown> {
  if (Array.isArray(value)) return [...value] as unknown as Record<string, unknown>;
  if (value instanceof Error) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, value);
    Object.defineProperties(copy, { message: { value: value.message, enumerable: false }, stack: { value: value.stack, enumerable: false } });
    return copy as unknown as Record<string, unknown>;
  }
  return { ...value };
}

/** `value` itself when nothing in it is sensitive; otherwise a copy with those values censored. */
export function redactSensitive<T>(value: T, sensitive: ReadonlySet<string>, depth = 0): T {
  if (!walkable(value) || depth >= MAX_DEPTH) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const child = value[key];
    const replaced = sensitive.has(key) ? (child === undefined ? undefined : CENSOR) : redactSensitive(child, sensitive, depth + 1);
    if (replaced !== child) {
      copy ??= shallowCopy(value);
      copy[key] = replaced;
    }
  }
  return (copy ?? value) as T;
}
