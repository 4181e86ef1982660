import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, startTestApp, uniqueId } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const post = (payload: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json', ...headers },
    payload,
  });

async function keysFor(userId: string) {
  return t.database.db.selectFrom('api_keys').select('id').where('user_id', '=', userId).execute();
}

describe('problem+json for bad input', () => {
  it('names malformed JSON', async () => {
    const res = await post('{"role": "agent",');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON', status: 400 });
    expect(res.json().request_id).toBe(res.headers['x-request-id']);
  });

  it('names the unknown field and creates nothing (no mass assignment)', async () => {
    const userId = uniqueId('mass');
    const res = await post(JSON.stringify({ role: 'agent', user_id: userId, name: 'n', revoked_at: null }));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_FAILED');
    expect(res.json().errors).toContainEqual({ pointer: '/revoked_at', in: 'body', detail: expect.stringContaining('remove it') });
    expect(await keysFor(userId)).toHaveLength(0);
  });

  it('names a missing field and a bad enum value', async () => {
    const res = await post(JSON.stringify({ role: 'boss', name: 'n' }));
    expect(res.statusCode).toBe(400);
    const pointers = res.json().errors.map((e: { pointer: string }) => e.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/user_id', '/role']));
  });

  it('refuses deep nesting before it can crash a serializer', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await post(deep);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON' });
    expect(res.json().detail).toContain('64 levels');
  });

  it('refuses strings Postgres cannot store, naming the field', async () => {
    const userId = uniqueId('nul');
    const res = await post(JSON.stringify({ role: 'agent', user_id: userId, name: 'a\u0000b' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toMatchObject({ pointer: '/name', in: 'body' });
    expect(await keysFor(userId)).toHaveLength(0);
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await post(JSON.stringify({ role: 'agent', user_id: 'x', name: 'y'.repeat(2_000_000) }));
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 404 problem+json for unknown routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', detail: expect.stringContaining('GET /v1/nope') });
  });

  it('keeps a sane incoming request id and replaces a hostile one', async () => {
    const kept = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-123' } });
    expect(kept.headers['x-request-id']).toBe('trace-123');
    const replaced = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'a b\n<script>' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
