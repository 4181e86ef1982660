/**
 * The command transaction under concurrency, on real Postgres: one writer per case through the
 * row lock, every accepted command applied exactly once, idempotency keys stored with the change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor as DomainActor, Command } from '../../src/cases/types.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
const actor: DomainActor = { id: 'agent-concurrency', role: 'agent' };

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const counter = {
  title: 'Count pings',
  machine: {
    id: 'counter',
    initial: 'counting',
    states: { counting: { on: { PING: { actions: [{ type: 'assignCaseFile', params: { path: 'lastPing', fromEvent: 'data.n' } }] } } } },
  },
};

async function openCase(): Promise<string> {
  const run = (command: Command, caseId?: string) =>
    t.core.runner.run({
      ...(caseId ? { caseId } : { template: { key: 'billing-dispute' } }),
      command,
      actor,
      respond: ({ case: c }) => ({ statusCode: 200, body: { id: c.id, version: c.version } }),
    });
  const opened = await run({ type: 'case.open', input: { title: 'concurrency', ownerId: actor.id } });
  const caseId = (opened.body as { id: string }).id;
  await run({ type: 'fragment.add', source: { kind: 'inline', definition: counter } }, caseId);
  return caseId;
}

const ping = (caseId: string, n: number, idempotencyKey?: string) =>
  t.core.runner.run({
    caseId,
    command: { type: 'event.send', event: { type: 'PING', data: { n } } },
    actor,
    ...(idempotencyKey ? { idempotency: { owner: actor.id, key: idempotencyKey, requestHash: 'same-request' } } : {}),
    respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }),
  });

async function versionAndJournal(caseId: string) {
  const row = await t.database.db.selectFrom('cases').select('version').where('id', '=', caseId).executeTakeFirstOrThrow();
  const versions = await t.database.db.selectFrom('journal').select('version').distinct().where('case_id', '=', caseId).execute();
  return { version: row.version, journalVersions: versions.length };
}

describe('command transaction', () => {
  it('applies 40 concurrent events to one case exactly once each, in some serial order', async () => {
    const caseId = await openCase();
    const before = await versionAndJournal(caseId);
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => ping(caseId, n)));
    const versions = results.map((r) => (r.body as { version: number }).version).sort((a, b) => a - b);
    // Each command saw a distinct version: no two read the same state.
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => before.version + 1 + i));
    expect(await versionAndJournal(caseId)).toEqual({ version: before.version + 40, journalVersions: before.journalVersions + 40 });
  });

  it('applies one of many concurrent requests that share an Idempotency-Key, and answers all alike', async () => {
    const caseId = await openCase();
    const before = await versionAndJournal(caseId);
    const key = `k-${caseId}`;
    const results = await Promise.all(Array.from({ length: 8 }, () => ping(caseId, 7, key)));
    expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await versionAndJournal(caseId)).toEqual({ version: before.version + 1, journalVersions: before.journalVersions + 1 });
  });

  it('writes nothing when the answer cannot be built (the transaction rolls back)', async () => {
    const caseId = await openCase();
    const before = await versionAndJournal(caseId);
    const outboxBefore = await t.database.db.selectFrom('outbox').select('id').where('case_id', '=', caseId).execute();
    await expect(
      t.core.runner.run({
        caseId,
        command: { type: 'event.send', event: { type: 'PING', data: { n: 1 } } },
        actor,
        respond: () => {
          throw new Error('crash between decide and save');
        },
      }),
    ).rejects.toThrow('crash between decide and save');
    expect(await versionAndJournal(caseId)).toEqual(before);
    const outboxAfter = await t.database.db.selectFrom('outbox').select('id').where('case_id', '=', caseId).execute();
    expect(outboxAfter).toEqual(outboxBefore);
  });
});
