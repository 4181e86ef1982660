/**
 * A body over the limit gets its 413 problem+json where a real client can read it: the server
 * drains the rest of the body (up to a bound) before answering, so a Node http client writing
 * 5 MB sees the answer, not a broken pipe — with Content-Length and chunked. Nothing is written.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

const FIVE_MB = 5 * 1024 * 1024;

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let c: CaseView;
let port: number;

beforeAll(async () => {
  // The default limit (1 MiB) and request timeout.
  t = await startTestApp();
  agent = await createActor(t.database.db, 'agent');
  c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Body limit', case_file: { account: { id: 'acc-b' } } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(() => t.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * Posts `total` bytes of a JSON note in 64 KiB writes with a real Node client, the way most
 * clients do: the whole body is written, then the answer read. Resolves with the answer once the
 * body is written and the answer read; rejects on a socket error (EPIPE, ECONNRESET) at any point.
 */
function upload(total: number, chunked: boolean): Promise<Answer> {
  let written!: () => void;
  const allWritten = new Promise<void>((resolve) => (written = resolve));
  const answered = new Promise<Answer>((resolve, reject) => {
    const head = '{"kind":"note","data":{"text":"';
    const tail = '"}}';
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: `/v1/cases/${c.id}/content`,
      headers: { ...agent.headers, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(total) }) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let left = total - head.length - tail.length;
    req.write(head);
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end(tail, () => written());
    };
    pump();
  });
  return Promise.all([answered, allWritten]).then(([answer]) => answer);
}

describe('a 5 MB body', () => {
  it.each([
    ['with Content-Length', false],
    ['chunked', true],
  ])('%s: the client reads the 413 problem+json, and nothing is written', async (_name, chunked) => {
    const rows = caseRows(t);
    const before = await rows.snapshot(c.id);
    const answer = await upload(FIVE_MB, chunked);
    expect(answer.status).toBe(413);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', instance: `/v1/cases/${c.id}/content` });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('a body within the limit still goes through on the same server', async () => {
    const answer = await upload(10_000, true);
    expect(answer.status, answer.body).toBe(201);
  });
});

describe('a Content-Length far beyond the drain bound', () => {
  it('is answered at once, before any of the body is sent', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      `POST /v1/cases/${c.id}/content HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${agent.headers.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${1024 * 1024 * 1024}\r\n\r\n`,
    );
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 413/);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});
