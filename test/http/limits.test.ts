/**
 * Edge limits of a listening server: a body over TESSERA_BODY_LIMIT_BYTES is a 413 problem (one
 * at the limit is accepted), and a client that sends headers and part of a body and then stalls
 * is cut off after TESSERA_REQUEST_TIMEOUT_MS. Neither writes anything.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, type Actor } from '../support/actors.js';
import { caseApi, caseRows, expectProblem, type CaseView } from '../support/case-api.js';
import { startTestApp } from '../support/platform.js';

const BODY_LIMIT = 2048;
const TIMEOUT_MS = 600;

let t: Awaited<ReturnType<typeof startTestApp>>;
let agent: Actor;
let c: CaseView;
let port: number;

beforeAll(async () => {
  t = await startTestApp({ config: { TESSERA_BODY_LIMIT_BYTES: String(BODY_LIMIT), TESSERA_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
  agent = await createActor(t.database.db, 'agent');
  c = await caseApi(t).open(agent, { template: 'billing-dispute', title: 'Limits', case_file: { account: { id: 'acc-l' } } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(() => t.close());

/** A note whose JSON body is exactly `bytes` long. */
function noteOfSize(bytes: number): string {
  const empty = JSON.stringify({ kind: 'note', data: { text: '' } });
  return JSON.stringify({ kind: 'note', data: { text: 'x'.repeat(bytes - empty.length) } });
}

const postNote = (payload: string) =>
  t.app.inject({ method: 'POST', url: `/v1/cases/${c.id}/content`, headers: { ...agent.headers, 'content-type': 'application/json' }, payload });

describe('body size limit', () => {
  it('accepts a body of exactly the limit and refuses one byte more with 413, writing nothing', async () => {
    const rows = caseRows(t);
    const atLimit = noteOfSize(BODY_LIMIT);
    expect(Buffer.byteLength(atLimit)).toBe(BODY_LIMIT);
    expect((await postNote(atLimit)).statusCode).toBe(201);

    const before = await rows.snapshot(c.id);
    const problem = expectProblem(await postNote(noteOfSize(BODY_LIMIT + 1)), 413, 'PAYLOAD_TOO_LARGE');
    expect(problem.instance).toBe(`/v1/cases/${c.id}/content`);
    expect(await rows.snapshot(c.id)).toEqual(before);
  });

  it('refuses over the wire too, from Content-Length, before reading the body', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/cases/${c.id}/content`, {
      method: 'POST',
      headers: { ...agent.headers, 'content-type': 'application/json' },
      body: noteOfSize(BODY_LIMIT * 4),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('request timeout', () => {
  it('closes a connection whose body stalls mid-upload, within the timeout, and writes nothing', async () => {
    const rows = caseRows(t);
    const before = await rows.snapshot(c.id);
    const body = noteOfSize(1000);
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
    socket.on('error', () => {}); // a reset after the 408 is fine
    socket.write(
      `POST /v1/cases/${c.id}/content HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${agent.headers.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 100)}`,
    );
    // ...and never sends the rest.
    const elapsed = await closed;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(received).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    expect(await rows.snapshot(c.id)).toEqual(before);
  });
});
