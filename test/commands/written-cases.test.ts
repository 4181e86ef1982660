/**
 * Group commit decides a command on the copy of a case it wrote last (commands/written-cases.ts):
 * on real Postgres, through a proxy that counts round trips. A copy saves the lock-and-load round
 * trip; a copy that is stale — the row changed behind the runner, with or without a new version,
 * or its customer's row changed — writes nothing, and the command is decided again on the row as
 * it is, applied exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { inject } from 'vitest';
import type { Actor, Command } from '../../src/cases/types.js';
import { createCommandRunner, type CommandRequest } from '../../src/commands/run-command.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/database.js';
import { startTestApp } from '../support/platform.js';
import { startWireCounter, type WireCounter } from '../support/wire-counter.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
let counter: WireCounter;
let database: DatabaseHandle;
const actor: Actor = { id: 'agent-written-cases', role: 'agent' };

beforeAll(async () => {
  t = await startTestApp();
  counter = await startWireCounter(inject('databaseUrl'));
  database = await openDatabase({ databaseUrl: counter.url, dataDir: '/nonexistent', poolSize: 2 });
  // Both connections open before anything is counted: a connection's start-up ends in ReadyForQuery too.
  await Promise.all([0, 1].map(() => sql`select pg_sleep(0.05)`.execute(database.db)));
});
afterAll(async () => {
  await database?.close();
  await counter?.close();
  await t?.close();
});

const counterFragment = {
  title: 'Count pings',
  machine: {
    id: 'counter',
    initial: 'counting',
    states: { counting: { on: { PING: { actions: [{ type: 'assignCaseFile', params: { path: 'lastPing', fromEvent: 'data.n' } }] } } } },
  },
};

/** A group-commit runner on the counted connection, one group at a time. */
function countedRunner() {
  return createCommandRunner({ db: database.db, engine: t.core.engine, catalog: t.core.catalog, clock: t.core.clock, groupCommit: { maxInFlight: 1 } });
}

async function openCase(customer?: { name: string; email: string }): Promise<string> {
  const run = (command: Command, caseId?: string) =>
    t.core.runner.run({
      ...(caseId ? { caseId } : { template: { key: 'billing-dispute' } }),
      command,
      actor,
      respond: ({ case: c }) => ({ statusCode: 200, body: { id: c.id } }),
    });
  const opened = await run({ type: 'case.open', input: { title: 'written cases', ownerId: actor.id, ...(customer ? { customer } : {}) } });
  const caseId = (opened.body as { id: string }).id;
  await run({ type: 'fragment.add', source: { kind: 'inline', definition: counterFragment } }, caseId);
  return caseId;
}

function ping(caseId: string, n: number): CommandRequest {
  return {
    caseId,
    command: { type: 'event.send', event: { type: 'PING', data: { n } } },
    actor,
    respond: ({ case: c, customer }) => ({
      statusCode: 200,
      body: { version: c.version, lastPing: c.caseFile['lastPing'], marker: (customer as { testMarker?: string } | undefined)?.testMarker ?? null },
    }),
  };
}

async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  const before = counter.roundTrips();
  await work();
  return counter.roundTrips() - before;
}

async function row(caseId: string) {
  const { rows } = await sql<{ version: number; case_file: Record<string, unknown>; pings: number }>`
    select c.version, c.state->'caseFile' as case_file,
      (select count(*)::int from journal j where j.case_id = c.id and j.type = 'event.received') as pings
    from cases c where c.id = ${caseId}`.execute(t.database.db);
  return rows[0]!;
}

/**
 * Writes `caseIds` through one group of `runner`, so it keeps a copy of each: a first lone
 * command takes the only group slot, and the others (with a partner case, so they are at least
 * two) queue into the group after it.
 */
async function seedCopies(runner: ReturnType<typeof countedRunner>, caseIds: string[], n: number) {
  const [lone, partner] = [await openCase(), await openCase()];
  await Promise.all([runner.run(ping(lone, n)), ...[partner, ...caseIds].map((id) => runner.run(ping(id, n)))]);
}

describe('commands decided on the copy group commit kept', () => {
  it('costs one round trip (BEGIN, the write, COMMIT) for a case the runner wrote last, and applies it once', async () => {
    const runner = countedRunner();
    const [a, b] = [await openCase(), await openCase()];
    await seedCopies(runner, [a, b], 1);
    const before = await row(a);

    expect(await roundTrips(() => runner.run(ping(a, 2)))).toBe(1);
    expect(await roundTrips(() => runner.run(ping(a, 3)))).toBe(1);
    const after = await row(a);
    expect(after.version).toBe(before.version + 2);
    expect(after.pings).toBe(before.pings + 2);
    expect(after.case_file['lastPing']).toBe(3);

    // A case the runner wrote only alone (no group: no copy kept) is locked and loaded first: two round trips.
    const other = await openCase();
    await runner.run(ping(other, 1));
    expect(await roundTrips(() => runner.run(ping(other, 2)))).toBe(2);
  });

  it('keeps no copy of a case an erasure asked it to forget: the next command locks and loads it', async () => {
    const runner = countedRunner();
    const a = await openCase();
    await seedCopies(runner, [a], 1);
    expect(await roundTrips(() => runner.run(ping(a, 2)))).toBe(1);
    runner.forgetCopies([a]);
    expect(await roundTrips(() => runner.run(ping(a, 3)))).toBe(2);
    expect((await row(a)).case_file['lastPing']).toBe(3);
  });

  it('writes nothing from a copy whose row was changed behind it without a new version (an erasure masks rows so), and decides again on the row', async () => {
    const runner = countedRunner();
    const a = await openCase();
    await seedCopies(runner, [a], 1);
    // What an erasure does: the row's JSON rewritten in place, its version left as it was.
    await sql`update cases set state = jsonb_set(state, '{caseFile,masked}', '"[erased]"') where id = ${a}`.execute(t.database.db);
    const before = await row(a);

    const answer = await runner.run(ping(a, 7));
    const after = await row(a);
    expect(answer.body).toMatchObject({ version: before.version + 1, lastPing: 7 });
    expect(after.version).toBe(before.version + 1);
    expect(after.pings).toBe(before.pings + 1);
    // The stale copy (without the mask) was not written back over the row.
    expect(after.case_file).toMatchObject({ masked: '[erased]', lastPing: 7 });

    // The case is now known to have another writer: the runner locks and loads it.
    expect(await roundTrips(() => runner.run(ping(a, 8)))).toBe(2);
    expect((await row(a)).case_file['lastPing']).toBe(8);
  });

  it('applies a command once when another runner wrote the case in between (a second API process)', async () => {
    const runner = countedRunner();
    const [a, b] = [await openCase(), await openCase()];
    await seedCopies(runner, [a, b], 1);
    await t.core.runner.run(ping(a, 50));
    const before = await row(a);

    const answers = await Promise.all([runner.run(ping(a, 51)), runner.run(ping(b, 51))]);
    expect(answers.map((x) => x.body)).toEqual([
      expect.objectContaining({ version: before.version + 1, lastPing: 51 }),
      expect.objectContaining({ lastPing: 51 }),
    ]);
    const after = await row(a);
    expect(after.version).toBe(before.version + 1);
    expect(after.pings).toBe(before.pings + 1);
  });

  it("decides again when the case's customer row changed since the copy: the decision reads the customer as it is", async () => {
    const runner = countedRunner();
    const a = await openCase({ name: 'Copy Customer', email: 'copy.customer@example.test' });
    await seedCopies(runner, [a], 1);
    expect(await roundTrips(() => runner.run(ping(a, 2)))).toBe(1);

    await sql`update customers set state = state || '{"testMarker": "changed"}' where id = (select customer_id from cases where id = ${a})`.execute(t.database.db);
    const before = await row(a);
    const answer = await runner.run(ping(a, 3));
    expect(answer.body).toMatchObject({ version: before.version + 1, lastPing: 3, marker: 'changed' });
    const after = await row(a);
    expect(after.version).toBe(before.version + 1);
    expect(after.pings).toBe(before.pings + 1);
  });
});
