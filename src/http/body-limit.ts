/**
 * The body limit, answered so that clients can read the answer. Fastify refuses an oversized
 * body at once and closes the connection while the client is still writing: most clients then
 * see a broken pipe (EPIPE / ECONNRESET) instead of the 413. Here the rest of the body is read
 * and thrown away first — up to a bound in bytes and time, so a refused upload costs little —
 * and only then is the 413 problem+json sent, with `connection: close`:
 *
 * - `content-length` above the limit: drained before answering (if it is within the bound;
 *   above the bound nothing would save the client's write, so the answer goes out at once);
 * - chunked bodies: passed through up to the limit; past it, drained up to the bound, then refused.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { TesseraError } from '../errors.js';

export interface BodyLimitOptions {
  /** The limit routes without their own use (Fastify's `bodyLimit`). */
  limitBytes: number;
  /** At most this many bytes of a refused body are read and discarded (default: max(4 × limit, 8 MiB)). */
  drainBytes?: number;
  /** ...and for at most this long (default 3 s). */
  drainMs?: number;
}

const tooLarge = (limit: number) =>
  new TesseraError('PAYLOAD_TOO_LARGE', `The request body exceeds ${limit} bytes; send a smaller body (the limit is TESSERA_BODY_LIMIT_BYTES)`);

/** Reads and discards `stream` until it ends, `maxBytes` have passed, or `maxMs`. */
export function drain(stream: Readable, maxBytes: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      stream.off('data', onData).off('end', done).off('error', done).off('close', done);
      // Past the bound: stop reading; the socket is closed after the answer.
      stream.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    stream.on('data', onData).on('end', done).on('error', done).on('close', done);
    stream.resume();
  });
}

/** Passes a body through up to `limit` bytes; past it, discards up to `drainBytes` more (or `drainMs`) and fails. */
class LimitedBody extends Transform {
  private seen = 0;
  private overSince: number | undefined;

  constructor(
    private readonly limit: number,
    private readonly drainBytes: number,
    private readonly drainMs: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen <= this.limit) return callback(null, chunk);
    this.overSince ??= Date.now();
    if (this.seen > this.limit + this.drainBytes || Date.now() - this.overSince > this.drainMs) return callback(tooLarge(this.limit));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(this.seen > this.limit ? tooLarge(this.limit) : null);
  }
}

export const bodyLimit = fp(
  async (app: FastifyInstance, options: BodyLimitOptions) => {
    const drainMs = options.drainMs ?? 3_000;
    app.addHook('preParsing', async (request, reply: FastifyReply, payload) => {
      const limit = request.routeOptions.bodyLimit ?? options.limitBytes;
      const drainBytes = options.drainBytes ?? Math.max(4 * limit, 8 * 1024 * 1024);
      const declared = request.headers['content-length'];
      if (declared !== undefined) {
        const length = Number(declared);
        if (!(length > limit)) return payload;
        // The client is told the connection ends here; the rest of its body is not read.
        reply.header('connection', 'close');
        if (length <= limit + drainBytes) await drain(payload, length, drainMs);
        throw tooLarge(limit);
      }
      if (request.headers['transfer-encoding'] === undefined) return payload;
      const limited = new LimitedBody(limit, drainBytes, drainMs);
      payload.on('error', (err) => limited.destroy(err));
      return payload.pipe(limited);
    });
  },
  { name: 'body-limit' },
);
