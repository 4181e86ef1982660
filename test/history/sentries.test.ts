/**
 * Sentries: a fragment starts when a milestone set by another fragment is reached, a running one
 * exits when the one it watches for has started — in the same command transaction — and the
 * journal folded again gives the same versions. A template whose criteria loop is refused at
 * load, naming the file and line.
 */
import { mkdtemp, mkdir, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseState, Command } from '../../src/cases/types.js';
import { assembleCore, type Core } from '../../src/core.js';
import { reconstructCase } from '../../src/history/reconstruct-plan.js';
import { loadCatalog } from '../../src/templates/load-catalog.js';
import type { DatabaseHandle } from '../../src/platform/database.js';
import type { JobQueue } from '../../src/platform/job-queue.js';
import { openTestDatabase, openTestJobQueue, silentLogger } from '../support/platform.js';

const CATALOG = path.resolve(import.meta.dirname, 'sentry-catalog');
const actor = { id: 'sentry-tester', role: 'supervisor' as const };

let database: DatabaseHandle;
let jobs: JobQueue;
let core: Core;

beforeAll(async () => {
  database = await openTestDatabase();
  jobs = openTestJobQueue();
  core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: CATALOG });
});
afterAll(async () => {
  await jobs.close();
  await database.close();
});

async function run(command: Command, caseId?: string): Promise<CaseState> {
  const response = await core.runner.run({
    ...(caseId ? { caseId } : { template: { key: 'sentry-demo' } }),
    command,
    actor,
    respond: ({ case: c }) => ({ statusCode: 200, body: c }),
  });
  return response.body as CaseState;
}

const byKey = (c: CaseState, key: string) => c.fragments.filter((f) => f.definition === `${key}@1`);

describe('sentries', () => {
  it('a default fragment with startWhen waits; the milestone another fragment sets starts it, and the watcher exits, in one command', async () => {
    const opened = await run({ type: 'case.open', input: { title: 'Sentry case' } });
    expect(byKey(opened, 'sentry-first').map((f) => f.status)).toEqual(['active']);
    expect(byKey(opened, 'sentry-second')).toEqual([]);
    expect(byKey(opened, 'sentry-watch').map((f) => f.status)).toEqual(['active']);

    const task = opened.tasks.find((t) => t.fragmentId === byKey(opened, 'sentry-first')[0]!.id)!;
    const watchTask = opened.tasks.find((t) => t.fragmentId === byKey(opened, 'sentry-watch')[0]!.id)!;
    const after = await run({ type: 'task.complete', taskId: task.id, output: {} }, opened.id);
    expect(after.version).toBe(2);
    expect(Object.keys(after.milestones).sort()).toEqual(['first_done', 'second_started']);
    expect(byKey(after, 'sentry-first').map((f) => f.status)).toEqual(['done']);
    expect(byKey(after, 'sentry-second').map((f) => [f.status, f.activeStates])).toEqual([['active', ['working']]]);
    expect(byKey(after, 'sentry-watch').map((f) => f.status)).toEqual(['cancelled']);

    const journal = await database.db.selectFrom('journal').select(['type', 'data']).where('case_id', '=', opened.id).where('version', '=', 2).orderBy('idx').execute();
    const types = journal.map((e) => e.type);
    expect(types).toContain('sentry.started');
    expect(types).toContain('fragment.exited');
    // The start comes before the exit it caused, all in version 2.
    expect(types.indexOf('sentry.started')).toBeLessThan(types.indexOf('fragment.exited'));
    expect(journal.find((e) => e.type === 'fragment.added')?.data).toMatchObject({ definition: 'sentry-second@1', source: 'sentry' });
    const tasks = await database.db.selectFrom('tasks').select(['id', 'status']).where('case_id', '=', opened.id).execute();
    expect(tasks.find((t) => t.id === watchTask.id)?.status).toBe('cancelled');
    expect(tasks.filter((t) => t.status === 'open')).toHaveLength(1);

    // Finishing the second step achieves the goal; nothing starts twice.
    const secondTask = after.tasks.find((t) => t.fragmentId === byKey(after, 'sentry-second')[0]!.id)!;
    const done = await run({ type: 'task.complete', taskId: secondTask.id, output: {} }, opened.id);
    expect(done.goals.map((g) => [g.key, g.status])).toEqual([['second_done', 'achieved']]);
    expect(byKey(done, 'sentry-second')).toHaveLength(1);

    // Replay reproduces every version, sentries included.
    const live = (await database.db.selectFrom('cases').select('state').where('id', '=', opened.id).executeTakeFirstOrThrow()).state as CaseState;
    for (const [version, expected] of [[1, opened], [2, after], [3, live]] as const) {
      const rebuilt = await reconstructCase(database.db, core, opened.id, { version });
      expect(rebuilt?.complete).toBe(true);
      expect(rebuilt?.state).toEqual(JSON.parse(JSON.stringify(expected)));
    }
  });

  it('criteria that loop are refused at load with the file and line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-sentry-loop-'));
    await mkdir(path.join(dir, 'fragments'));
    await cp(path.join(CATALOG, 'fragments'), path.join(dir, 'fragments'), { recursive: true });
    const text = [
      'key: sentry-loop',
      'version: 1',
      'title: Sentries in a circle',
      'caseFileSchema: { type: object }',
      'goals: []',
      'milestones:',
      '  - { key: first_done, title: First }',
      '  - { key: second_started, title: Second }',
      '  - { key: second_done, title: Second done }',
      'defaultFragments: [sentry-first@1, sentry-second@1]',
      'sentries:',
      '  - fragment: sentry-second@1',
      `    startWhen: "'first_done' in milestones"`,
      '  - fragment: sentry-first@1',
      `    exitWhen: "'second_started' in milestones"`,
      'roles: [agent]',
      'resolution: owner',
      '',
    ].join('\n');
    await writeFile(path.join(dir, 'sentry-loop.yaml'), text);
    const loaded = await loadCatalog(dir);
    const loop = loaded.problems.filter((p) => p.code === 'SENTRY_LOOP');
    expect(loop).toHaveLength(1);
    expect(loop[0]).toMatchObject({ file: path.join(dir, 'sentry-loop.yaml'), path: '/sentries/0/startWhen', line: 13 });
    expect(loop[0]!.message).toContain('sentry-second starts on what sentry-first does');
    expect(loaded.templates.map((t) => t.key)).not.toContain('sentry-loop');
    // The same fragments without the exit criterion load.
    await writeFile(path.join(dir, 'sentry-loop.yaml'), text.replace(/  - fragment: sentry-first@1\n.*exitWhen.*\n/, ''));
    const fixed = await loadCatalog(dir);
    expect(fixed.problems).toEqual([]);
    expect(fixed.templates.map((t) => t.key)).toContain('sentry-loop');
  });
});
