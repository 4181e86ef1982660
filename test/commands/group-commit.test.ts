/**
 * Group commit on real Postgres: concurrent commands for different cases share one transaction
 * and one write statement; a refused command fails alone; two commands of one case never share a
 * group and apply in the order they came; a group whose session dies fails every command
 * retryably with nothing half-applied, and the retry with the same Idempotency-Keys applies each
 * exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import type { Actor, Command } from '../../src/cases/types.js';
import { createCommandRunner, type CommandRequest, type CommittedEffects } from '../../src/commands/run-command.js';
import { isDatabaseUnavailable } from '../../src/persistence/driver-errors.js';
import { TesseraError } from '../../src/errors.js';
import { startTestApp } from '../support/platform.js';

let t: Awaited<ReturnType<typeof startTestApp>>;
const actor: Actor = { id: 'agent-group-commit', role: 'agent' };

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

/** A runner of its own with one group transaction at a time, so what queues behind it forms one group. */
function groupRunner() {
  const commits: CommittedEffects[][] = [];
  const runner = createCommandRunner({
    db: t.database.db,
    engine: t.core.engine,
    catalog: t.core.catalog,
    clock: t.core.clock,
    afterCommit: (committed) => commits.push(committed),
    groupCommit: { maxInFlight: 1 },
  });
  return { runner, commits };
}

async function openCase(): Promise<string> {
  const run = (command: Command, caseId?: string) =>
    t.core.runner.run({
      ...(caseId ? { caseId } : { template: { key: 'billing-dispute' } }),
      command,
      actor,
      respond: ({ case: c }) => ({ statusCode: 200, body: { id: c.id, version: c.version } }),
    });
  const opened = await run({ type: 'case.open', input: { title: 'group commit', ownerId: actor.id } });
  const caseId = (opened.body as { id: string }).id;
  await run({ type: 'fragment.add', source: { kind: 'inline', definition: counter } }, caseId);
  return caseId;
}

function ping(caseId: string, n: number, extra: Partial<CommandRequest> = {}): CommandRequest {
  return {
    caseId,
    command: { type: 'event.send', event: { type: 'PING', data: { n } } },
    actor,
    respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version, lastPing: c.caseFile['lastPing'] } }),
    ...extra,
  };
}

async function snapshot(caseIds: string[]) {
  const rows = await sql<{ id: string; version: number; xmin: string; entries: number }>`
    select c.id, c.version, c.xmin::text as xmin, (select count(*)::int from journal j where j.case_id = c.id) as entries
    from cases c where c.id = any(${caseIds}::text[])`.execute(t.database.db);
  return new Map(rows.rows.map((r) => [r.id, r]));
}

/**
 * Holds `caseId`'s row lock from a connection of its own until `release()`: the group that needs
 * it waits, and the commands submitted meanwhile queue into the next group.
 */
async function holdLock(caseId: string) {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from cases where id = $1 for update', [caseId]);
  return {
    async release() {
      await client.query('rollback');
      await client.end();
    },
  };
}

/** Waits until some session waits for a row lock held by another (the blocked group started). */
async function untilLockWait() {
  for (let i = 0; i < 200; i++) {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.database.db);
    if (rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no session started waiting for the lock');
}

async function until(condition: () => boolean) {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not reached');
}

describe('group commit', () => {
  it('writes concurrent commands for different cases in one transaction and hands their effects over once', async () => {
    const { runner, commits } = groupRunner();
    const blocker = await openCase();
    const cases = await Promise.all([openCase(), openCase(), openCase(), openCase()]);
    const before = await snapshot(cases);
    const lock = await holdLock(blocker);
    const first = runner.run(ping(blocker, 0));
    await untilLockWait();
    const group = cases.map((id, n) => runner.run(ping(id, n + 1)));
    await lock.release();
    await first;
    const answers = await Promise.all(group);

    const after = await snapshot(cases);
    answers.forEach((answer, n) => {
      expect(answer).toEqual({ statusCode: 200, replayed: false, body: { version: before.get(cases[n]!)!.version + 1, lastPing: n + 1 } });
    });
    for (const id of cases) {
      expect(after.get(id)!.version).toBe(before.get(id)!.version + 1);
      expect(after.get(id)!.entries).toBeGreaterThan(before.get(id)!.entries);
    }
    // One transaction wrote all four rows: one xmin.
    expect(new Set(cases.map((id) => after.get(id)!.xmin)).size).toBe(1);
    // The blocker's own transaction, then the group's: one afterCommit with its four cases.
    expect(commits).toHaveLength(2);
    expect(commits[1]!.map((c) => c.caseId).sort()).toEqual([...cases].sort());
  });

  it('fails a refused command alone: its case is untouched, the others of its group commit', async () => {
    const { runner, commits } = groupRunner();
    const blocker = await openCase();
    const cases = await Promise.all([openCase(), openCase(), openCase()]);
    const before = await snapshot(cases);
    const lock = await holdLock(blocker);
    const first = runner.run(ping(blocker, 0));
    await untilLockWait();
    const refusedCase = cases[1]!;
    const outcomes = Promise.allSettled([
      runner.run(ping(cases[0]!, 1)),
      // A stale If-Match: refused under the lock, after the group loaded the case.
      runner.run(ping(refusedCase, 2, { expectedVersion: before.get(refusedCase)!.version - 1 })),
      runner.run(ping(cases[2]!, 3)),
    ]);
    await lock.release();
    await first;
    const settled = await outcomes;
    expect(settled[0]!.status).toBe('fulfilled');
    expect(settled[2]!.status).toBe('fulfilled');
    expect(settled[1]!.status).toBe('rejected');
    const error = (settled[1] as PromiseRejectedResult).reason as TesseraError;
    expect(error).toBeInstanceOf(TesseraError);
    expect(error.code).toBe('VERSION_MISMATCH');

    const after = await snapshot(cases);
    expect(after.get(refusedCase)).toEqual(before.get(refusedCase));
    expect(after.get(cases[0]!)!.version).toBe(before.get(cases[0]!)!.version + 1);
    expect(after.get(cases[2]!)!.version).toBe(before.get(cases[2]!)!.version + 1);
    expect(after.get(cases[0]!)!.xmin).toBe(after.get(cases[2]!)!.xmin);
    // The refused command handed nothing to the relay.
    expect(commits.flat().map((c) => c.caseId)).not.toContain(refusedCase);
  });

  it('never puts two commands of one case in a group, and applies them in the order they came', async () => {
    const { runner } = groupRunner();
    const blocker = await openCase();
    const [caseId, other] = await Promise.all([openCase(), openCase()]);
    const before = await snapshot([caseId!]);
    const lock = await holdLock(blocker);
    const first = runner.run(ping(blocker, 0));
    await untilLockWait();
    const answers = Promise.all([runner.run(ping(caseId!, 1)), runner.run(ping(other!, 9)), runner.run(ping(caseId!, 2)), runner.run(ping(caseId!, 3))]);
    await lock.release();
    await first;
    const [a1, , a2, a3] = await answers;
    const v = before.get(caseId!)!.version;
    expect([a1!.body, a2!.body, a3!.body]).toEqual([
      { version: v + 1, lastPing: 1 },
      { version: v + 2, lastPing: 2 },
      { version: v + 3, lastPing: 3 },
    ]);
    const journal = await t.database.db.selectFrom('journal').select(['version']).distinct().where('case_id', '=', caseId!).where('version', '>', v).execute();
    expect(journal.map((j) => j.version).sort()).toEqual([v + 1, v + 2, v + 3]);
  });

  it('fails every command of a group whose session dies, retryably, with nothing half-applied; the retry applies each once', async () => {
    const { runner, commits } = groupRunner();
    const blocker = await openCase();
    const cases = await Promise.all([openCase(), openCase(), openCase()]);
    const before = await snapshot(cases);
    const keyOf = (id: string) => ({ owner: actor.id, key: `retry-${id}`, requestHash: `ping-${id}` });
    const lock = await holdLock(blocker);
    const first = runner.run(ping(blocker, 0));
    await untilLockWait();
    const commitsBefore = commits.length;
    const outcomes = Promise.allSettled(
      cases.map((id, n) =>
        runner.run(
          ping(id, n, {
            idempotency: keyOf(id),
            // The last command's read kills the group's own session, after the others were decided.
            ...(n === cases.length - 1
              ? {
                  enrich: async (trx) => {
                    await sql`select pg_terminate_backend(pg_backend_pid())`.execute(trx);
                    return ping(id, n).command;
                  },
                }
              : {}),
          }),
        ),
      ),
    );
    // Each first asks for a stored answer (a round trip): wait until all three queue for the group.
    await until(() => runner.groupWaiting() === cases.length);
    await lock.release();
    await first;
    const settled = await outcomes;
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect(isDatabaseUnavailable((outcome as PromiseRejectedResult).reason)).toBe(true);
    }
    expect(await snapshot(cases)).toEqual(before);
    const idempotency = await t.database.db.selectFrom('idempotency_keys').select('key').where('key', 'in', cases.map((id) => keyOf(id).key)).execute();
    expect(idempotency).toEqual([]);
    expect(commits.length).toBe(commitsBefore + 1);

    // The retry (same keys) applies each once; a second retry replays the stored answers.
    const retried = await Promise.all(cases.map((id, n) => runner.run(ping(id, n, { idempotency: keyOf(id) }))));
    const replayed = await Promise.all(cases.map((id, n) => runner.run(ping(id, n, { idempotency: keyOf(id) }))));
    const after = await snapshot(cases);
    cases.forEach((id, n) => {
      expect(retried[n]!.replayed).toBe(false);
      expect(replayed[n]).toEqual({ ...retried[n], replayed: true });
      expect(after.get(id)!.version).toBe(before.get(id)!.version + 1);
    });
  });

  it('answers a repeat of every command of a committed group with its stored answer, writing nothing', async () => {
    const { runner } = groupRunner();
    const cases = await Promise.all([openCase(), openCase(), openCase(), openCase()]);
    const keyOf = (id: string) => ({ owner: actor.id, key: `replay-${id}`, requestHash: `ping-${id}` });
    const firstAnswers = await Promise.all(cases.map((id, n) => runner.run(ping(id, n, { idempotency: keyOf(id) }))));
    const committed = await snapshot(cases);
    const repeats = await Promise.all(cases.map((id, n) => runner.run(ping(id, n, { idempotency: keyOf(id) }))));
    repeats.forEach((repeat, n) => expect(repeat).toEqual({ ...firstAnswers[n], replayed: true }));
    expect(await snapshot(cases)).toEqual(committed);
  });

  it('looks up the keys of concurrent commands together: a stored one replays, one reused for another request is refused alone, a new one applies', async () => {
    const { runner } = groupRunner();
    const [stored, reused, fresh] = await Promise.all([openCase(), openCase(), openCase()]);
    const keyOf = (id: string, hash = `ping-${id}`) => ({ owner: actor.id, key: `lookup-${id}`, requestHash: hash });
    const [storedAnswer, reusedAnswer] = await Promise.all([runner.run(ping(stored, 1, { idempotency: keyOf(stored) })), runner.run(ping(reused, 1, { idempotency: keyOf(reused) }))]);
    const before = await snapshot([stored, reused, fresh]);

    const outcomes = await Promise.allSettled([
      runner.run(ping(stored, 2, { idempotency: keyOf(stored) })),
      runner.run(ping(reused, 2, { idempotency: keyOf(reused, 'another request') })),
      runner.run(ping(fresh, 2, { idempotency: keyOf(fresh) })),
    ]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { ...storedAnswer, replayed: true } });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: { replayed: false, body: { lastPing: 2 } } });
    const after = await snapshot([stored, reused, fresh]);
    // Only the new command wrote anything; the replay and the refusal left their cases as they were.
    expect(after.get(stored)).toEqual(before.get(stored));
    expect(after.get(reused)).toEqual(before.get(reused));
    expect(after.get(fresh)!.version).toBe(before.get(fresh)!.version + 1);
    expect(reusedAnswer.replayed).toBe(false);
  });
});
