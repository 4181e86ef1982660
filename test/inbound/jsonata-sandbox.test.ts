/**
 * The JSONata sandbox hands the evaluations that wait for a worker to it in one message: each
 * still gets its own answer, and the bounds still hold per evaluation — the one stuck in a native
 * call fails alone after the hard time bound while the rest of its batch is answered, and a batch
 * whose worker runs out of memory is evaluated again one at a time so only the culprit fails.
 * One worker here, so everything submitted while it is busy shares a batch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createJsonataSandbox, JSONATA_LIMITS, type JsonataSandbox, type SandboxResult } from '../../src/inbound/jsonata-sandbox.js';

let sandbox: JsonataSandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

const bindings = { webhook: { id: 'msg_1', source: 'test', timestamp: '2026-12-03T00:00:00.000Z' } };
const ok = (value: unknown): SandboxResult => ({ ok: true, value });
// Backtracks for minutes inside one native regex call: nothing on the worker's thread stops it.
const STUCK = '$contains(text, /(a+)+$/)';
const stuckInput = { text: `${'a'.repeat(40)}!` };

describe('batched evaluations', () => {
  it('answers each of many concurrent evaluations with its own result, in any mix of expressions', async () => {
    sandbox = createJsonataSandbox({ ...JSONATA_LIMITS, workers: 1 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 3 === 0 ? sandbox!.evaluate('n * 2', { n: i }, bindings) : i % 3 === 1 ? sandbox!.evaluate('{ "n": n, "id": $webhook.id }', { n: i }, bindings) : sandbox!.evaluate('missing', { n: i }, bindings),
      ),
    );
    results.forEach((result, i) => expect(result).toEqual(i % 3 === 0 ? ok(i * 2) : i % 3 === 1 ? ok({ n: i, id: 'msg_1' }) : ok(undefined)));
  });

  it('fails an evaluation stuck in a native call alone, after the hard bound; the rest of its batch is answered', async () => {
    sandbox = createJsonataSandbox({ ...JSONATA_LIMITS, workers: 1, hardTimeoutMs: 300 });
    // The first goes out alone; the others queue behind it and go as one batch, the stuck one in the middle.
    const first = sandbox.evaluate('n', { n: 0 }, bindings);
    const started = performance.now();
    const batch = Array.from({ length: 9 }, (_, i) => (i === 4 ? sandbox!.evaluate(STUCK, stuckInput, bindings) : sandbox!.evaluate('n + 100', { n: i }, bindings)));
    const results = await Promise.all(batch);
    const elapsed = performance.now() - started;

    expect(await first).toEqual(ok(0));
    expect(results[4]).toEqual({ ok: false, limit: true, message: 'took longer than 300 ms' });
    results.forEach((result, i) => i !== 4 && expect(result).toEqual(ok(i + 100)));
    // Stopped within the bound plus the watchdog's quarter-bound tick, not after minutes.
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(5_000);
    // A fresh worker took over.
    expect(await sandbox.evaluate('"still " & word', { word: 'here' }, bindings)).toEqual(ok('still here'));
  });

  it('evaluates a batch whose worker ran out of memory again one at a time: only the culprit fails', async () => {
    sandbox = createJsonataSandbox({ ...JSONATA_LIMITS, workers: 1, heapMb: 32 });
    // Each array stays under the sequence bound; together they are far over 32 MB.
    const hog = '$count($map([1..400], function($i){ $split($pad("", 99000, "x"), "") }))';
    const first = sandbox.evaluate('n', { n: 0 }, bindings);
    const batch = [sandbox.evaluate('n', { n: 1 }, bindings), sandbox.evaluate(hog, {}, bindings), sandbox.evaluate('n', { n: 3 }, bindings)];
    const results = await Promise.all(batch);

    expect(await first).toEqual(ok(0));
    expect(results[0]).toEqual(ok(1));
    expect(results[1]).toMatchObject({ ok: false, limit: true, message: 'ran out of its 32 MB of memory' });
    expect(results[2]).toEqual(ok(3));
    expect(await sandbox.evaluate('n', { n: 4 }, bindings)).toEqual(ok(4));
  });

  it('rejects what is pending when it closes, and everything after', async () => {
    sandbox = createJsonataSandbox({ ...JSONATA_LIMITS, workers: 1 });
    const running = sandbox.evaluate(STUCK, stuckInput, bindings);
    const queued = sandbox.evaluate('1', {}, bindings);
    const outcomes = Promise.allSettled([running, queued]);
    await new Promise((r) => setTimeout(r, 50));
    await sandbox.close();
    expect((await outcomes).map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.status))).toEqual(['the JSONata sandbox is closed', 'the JSONata sandbox is closed']);
    await expect(sandbox.evaluate('1', {}, bindings)).rejects.toThrow('closed');
    sandbox = undefined;
  });
});
