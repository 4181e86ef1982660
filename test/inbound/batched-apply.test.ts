/**
 * The batched apply path (applier.applyBatch, the worker's inbox batcher): rows of many keys
 * applied together, on real Postgres and Redis. A row that fails fails alone; a key's rows apply in
 * receipt order however the batch is formed; and a worker killed (SIGKILL) inside a batch —
 * before its commands commit, or after they committed but before the rows were settled — leaves
 * every row to the next worker, which applies each exactly once.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createInboxApplier } from '../../src/inbound/apply-inbox.js';
import { createInboundSources } from '../../src/inbound/inbound-sources.js';
import { spawnTs } from '../support/process.js';
import { SECRET_KEY, silentLogger } from '../support/platform.js';
import { sleep, waitFor } from '../jobs/timer-stack.js';
import { INBOUND_CATALOG, openInboundStack, ORDER_EVENTS, type InboundStack } from './inbound-stack.js';

const update = (orderId: string, n: number) => ({ type: 'order.updated', data: { order_id: orderId, status: 'paid', n } });

/** `n` of every ORDER_UPDATED the case received, in journal (application) order. */
async function appliedOrder(s: InboundStack, caseId: string): Promise<number[]> {
  return (await s.journal(caseId)).filter((j) => j.type === 'event.received').map((j) => (j.data as { data: { n: number } }).data.n);
}

function applierFor(s: InboundStack) {
  return createInboxApplier({ db: s.db, runner: s.core.runner, sources: createInboundSources({ db: s.db, secrets: s.platform.secrets }), catalog: s.core.catalog, logger: silentLogger });
}

describe('applyBatch', () => {
  let s: InboundStack;
  beforeAll(async () => {
    s = await openInboundStack();
  });
  afterAll(async () => s?.close());

  it('a batch with a bad mapping value and a refused event: those two fail alone with the reason, every other row applies', async () => {
    const src = await s.createSource({
      rules: [
        { when: "type = 'order.delivered'", correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' }, event: { type: 'ORDER_DELIVERED' } },
        { when: "type = 'order.items'", correlate: { by: 'external_ref', ref: 'order_id', value: 'data.order_id' }, event: { type: 'ORDER_UPDATED', data: 'data.items' } },
        ...ORDER_EVENTS.rules,
      ],
    });
    const cases = await Promise.all(['b-1', 'b-2', 'b-3', 'b-4'].map((order) => s.openCase({ externalRefs: { order_id: order } })));
    const sent = [
      await s.send(src.key, update('b-1', 1), { secret: src.secret }),
      await s.send(src.key, { type: 'order.items', data: { order_id: 'b-2', items: [1, 2] } }, { secret: src.secret }), // bad value
      await s.send(src.key, update('b-3', 3), { secret: src.secret }),
      await s.send(src.key, { type: 'order.delivered', data: { order_id: 'b-3' } }, { secret: src.secret }),
      await s.send(src.key, { type: 'order.delivered', data: { order_id: 'b-3' } }, { secret: src.secret }), // refused: delivered already
      await s.send(src.key, update('b-4', 4), { secret: src.secret }),
      await s.send(src.key, update('b-2', 2), { secret: src.secret }), // after the bad one, same key
    ];
    expect(sent.map((r) => r.statusCode)).toEqual(Array(7).fill(202));
    await applierFor(s).applyBatch(sent.map((r) => r.json().id as string));

    const rows = await s.inboxRows(src.key);
    expect(rows.map((r) => r.status)).toEqual(['applied', 'failed', 'applied', 'applied', 'failed', 'applied', 'applied']);
    expect(rows[1]!.error).toMatchObject({ code: 'INVALID_MAPPING', pointer: '/rules/1/event/data' });
    expect(rows[4]!.error).toMatchObject({ code: 'EVENT_NOT_ACCEPTED' });
    expect(rows.map((r) => r.case_id)).toEqual([cases[0], null, cases[2], cases[2], null, cases[3], cases[1]]);
    expect(await appliedOrder(s, cases[0]!)).toEqual([1]);
    expect(await appliedOrder(s, cases[1]!)).toEqual([2]);
    expect(await appliedOrder(s, cases[3]!)).toEqual([4]);
    // b-3: the update, then one delivery; the refused second delivery left no trace.
    const b3 = (await s.journal(cases[2]!)).filter((j) => j.type === 'event.received').map((j) => (j.data as { event: string }).event);
    expect(b3).toEqual(['ORDER_UPDATED', 'ORDER_DELIVERED']);
    // Applying the same batch again changes nothing.
    const before = await s.counts();
    await applierFor(s).applyBatch(sent.map((r) => r.json().id as string));
    expect(await s.counts()).toEqual(before);
  });

  it('rows of many keys, batched in any order by two appliers at once, apply in receipt order per key, each once', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const orders = ['k-1', 'k-2', 'k-3', 'k-4', 'k-5'];
    const cases = await Promise.all(orders.map((order) => s.openCase({ externalRefs: { order_id: order } })));
    const ids: string[] = [];
    // Interleaved: 8 rows per key, sent in rounds over the keys.
    for (let n = 0; n < 8; n++) {
      for (const order of orders) ids.push((await s.send(src.key, update(order, n), { secret: src.secret })).json().id as string);
    }
    const [a, b] = [applierFor(s), applierFor(s)];
    // Batches of mixed keys, newest rows first, the two appliers racing over overlapping batches.
    const reversed = [...ids].reverse();
    await Promise.all([
      a.applyBatch(reversed.slice(0, 20)),
      b.applyBatch(reversed.slice(10, 30)),
      a.applyBatch(reversed.slice(25)),
      b.applyBatch([reversed[3]!, reversed[39]!]),
    ]);
    const rows = await s.inboxRows(src.key);
    expect(rows.every((r) => r.status === 'applied')).toBe(true);
    for (const caseId of cases) expect(await appliedOrder(s, caseId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const versions = await s.db.selectFrom('cases').select('version').where('id', 'in', cases).execute();
    expect(versions.map((v) => v.version)).toEqual(Array(5).fill(9));
  });
});

describe('a worker killed inside a batch', () => {
  let s: InboundStack;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    s = await openInboundStack();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => s?.close());

  async function startWorkerProcess() {
    const child: ChildProcessWithoutNullStreams = spawnTs('src/server.ts', [], {
      TESSERA_ROLE: 'worker',
      DATABASE_URL: s.url,
      REDIS_URL: inject('redisUrl'),
      TESSERA_REDIS_PREFIX: s.prefix,
      TESSERA_TEMPLATES_DIR: INBOUND_CATALOG,
      TESSERA_MIGRATE_ON_START: 'false',
      TESSERA_SECRET_KEY: SECRET_KEY,
      LOG_LEVEL: 'info',
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const kill = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    };
    cleanups.push(() => kill('SIGKILL'));
    const started = await waitFor(async () => (out.includes('workers started') ? true : undefined), 60_000, 100);
    if (!started) throw new Error(`worker did not start:\n${out}`);
    return { kill, output: () => out };
  }

  async function locker() {
    const client = new pg.Client({ connectionString: s.url });
    await client.connect();
    cleanups.push(() => client.end());
    return client;
  }

  /**
   * Waits until some session of the database waits for a lock in a statement matching `what` (the
   * worker, blocked). Asked outside the locker's transaction: a transaction keeps its first view of
   * pg_stat_activity.
   */
  async function blockedOn(what: RegExp) {
    const client = await locker();
    return waitFor(async () => {
      const { rows } = await client.query<{ query: string }>(
        `select query from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
      );
      return rows.some((r) => what.test(r.query)) ? true : undefined;
    }, 30_000);
  }

  async function sendBatch(src: { key: string; secret: string }, orders: string[], perKey: number) {
    for (let n = 0; n < perKey; n++) {
      for (const order of orders) expect((await s.send(src.key, update(order, n), { secret: src.secret })).statusCode).toBe(202);
    }
  }

  it('before its commands commit: nothing is lost or doubled, the next worker applies every row once', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const orders = ['c-1', 'c-2', 'c-3', 'c-4'];
    const cases = await Promise.all(orders.map((order) => s.openCase({ externalRefs: { order_id: order } })));
    // Hold one case's row lock: the worker's group transaction blocks on it, the batch in flight.
    const lock = await locker();
    await lock.query('begin');
    await lock.query('select id from cases where id = $1 for update', [cases[0]]);
    const first = await startWorkerProcess();
    await sendBatch(src, orders, 3);
    expect(await blockedOn(/from cases\s+where cases\.id = /), first.output()).toBe(true);
    await first.kill('SIGKILL');
    await lock.query('rollback');
    const second = await startWorkerProcess();
    await s.settled(src.key, 60_000);
    const rows = await s.inboxRows(src.key);
    expect(rows.every((r) => r.status === 'applied'), second.output()).toBe(true);
    for (const caseId of cases) expect(await appliedOrder(s, caseId)).toEqual([0, 1, 2]);
    await second.kill('SIGTERM');
  }, 180_000);

  it('after its commands committed, before the rows were settled: the retry replays the commands, nothing doubles', async () => {
    const src = await s.createSource(ORDER_EVENTS);
    const orders = ['s-1', 's-2', 's-3'];
    const cases = await Promise.all(orders.map((order) => s.openCase({ externalRefs: { order_id: order } })));
    await sendBatch(src, orders, 1);
    const rows = await s.inboxRows(src.key);
    // Hold the inbox rows' locks: the worker's commands commit, then its settle statement blocks.
    const lock = await locker();
    await lock.query('begin');
    await lock.query('select id from inbox where id = any($1) for update', [rows.map((r) => r.id)]);
    const first = await startWorkerProcess();
    expect(await blockedOn(/update inbox/), first.output()).toBe(true);
    // Commands committed while every row is still received. (The rows may have come in batches of
    // their own, each stuck at its settle; with every batch slot stuck, no further batch starts.)
    const committed = await waitFor(async () => {
      const orders = await Promise.all(cases.map((caseId) => appliedOrder(s, caseId)));
      return orders.filter((o) => o.length > 0).length >= 2 ? orders : undefined;
    }, 30_000);
    expect(committed, first.output()).toBeDefined();
    expect(committed!.filter((o) => o.length > 0).every((o) => o.length === 1 && o[0] === 0)).toBe(true);
    await first.kill('SIGKILL');
    // Its settle statements, sent before the kill, would still run once the locks go: end their
    // sessions first, as if the worker had died before sending them.
    const watcher = await locker();
    await watcher.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ~ '^[[:space:]]*update inbox'`);
    await lock.query('rollback');
    expect((await s.inboxRows(src.key)).map((r) => r.status)).toEqual(['received', 'received', 'received']);

    const second = await startWorkerProcess();
    const settled = await s.settled(src.key, 60_000);
    expect(settled.map((r) => [r.status, r.case_id])).toEqual(cases.map((c) => ['applied', c]));
    await sleep(300);
    for (const caseId of cases) expect(await appliedOrder(s, caseId)).toEqual([0]);
    const versions = await s.db.selectFrom('cases').select('version').where('id', 'in', cases).execute();
    expect(versions.map((v) => v.version)).toEqual([2, 2, 2]);
    await second.kill('SIGTERM');
  }, 180_000);
});
