/**
 * Routing benchmark: AGENTS people pulling next work (`core.work.next`, the command path behind
 * POST /v1/tasks/next, without HTTP) concurrently from TASKS open tasks across 20 queues and 10
 * skills, until each has PULLS assignments or nothing fits them. Prints assignments/s, pull
 * latency p50/p99, doubles (a task handed out twice: must be 0) and capacity breaches (a person
 * over a bucket's capacity: must be 0), both checked from the rows afterwards; the last line is
 * one JSON object.
 *
 * Seeding: 20 prototype cases (one per queue) are opened through the real command path, each
 * with an inline fragment of ten parallel tasks (skills `skill-k` at levels 1-3, effort 1-2, every
 * fifth task of kind `call`). Their two decisions (open, add fragment) are then cloned — fresh
 * ids, a random priority and goal deadline per clone — and written with the engine's own write
 * (`saveDecisions`, the statement every command uses), 250 cases per statement: the rows are
 * exactly what the engine writes, without deciding 10,000 cases one by one.
 *
 *   npm run bench:routing        (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_TASKS=100000 BENCH_AGENTS=50 BENCH_PULLS=60 BENCH_POOL=20 npm run bench:routing
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import type { CaseState, Decision, Priority } from '../src/cases/types.js';
import { assembleCore } from '../src/core.js';
import type { MachineJson } from '../src/fragments/types.js';
import { decideUser } from '../src/people/user.js';
import { saveDecisions, type SaveInput } from '../src/persistence/case-store.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { createUserStore } from '../src/persistence/user-store.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { createBenchDatabase, percentile, round } from './support.js';

const SERVER_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const PULLS = Number(process.env.BENCH_PULLS ?? 60);
const POOL = Number(process.env.BENCH_POOL ?? 20);
const QUEUES = 20;
const SKILLS = 10;
const TASKS_PER_CASE = 10;
const CASES = Math.ceil(TASKS / TASKS_PER_CASE);
const BATCH = 250;
const PRIORITIES: Priority[] = ['low', 'normal', 'normal', 'normal', 'high', 'urgent'];

const logger = pino({ level: 'warn' });
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function machineFor(queue: number): MachineJson {
  const regions: Record<string, unknown> = {};
  for (let i = 0; i < TASKS_PER_CASE; i++) {
    regions[`r${i}`] = {
      initial: 'open',
      states: {
        open: {
          tags: ['task'],
          meta: {
            task: {
              title: `Task ${i}`,
              role: 'agent',
              queue: `queue-${queue}`,
              event: `DONE_${i}`,
              skills: { [`skill-${(queue + i) % SKILLS}`]: 1 + (i % 3) },
              effort: 1 + (i % 2),
              ...(i % 5 === 0 ? { kind: 'call' } : {}),
            },
          },
          on: { [`DONE_${i}`]: 'done' },
        },
        done: { type: 'final' },
      },
    };
  }
  return { id: `work-${queue}`, initial: 'work', states: { work: { type: 'parallel', states: regions as MachineJson['states'] } } };
}

type Ok = Extract<Decision, { ok: true }>;

/** A copy of the prototype's two decisions under fresh ids, with its own priority and deadline shift. */
function cloneDecisions(proto: [Ok, Ok], priority: Priority, shiftMs: number): [SaveInput, SaveInput] {
  const ids = new Map<string, string>();
  const text = JSON.stringify(proto).replace(UUID, (id) => {
    let fresh = ids.get(id);
    if (!fresh) ids.set(id, (fresh = randomUUID()));
    return fresh;
  });
  const [open, add] = JSON.parse(text) as [Ok, Ok];
  const shift = (iso: string | undefined) => (iso === undefined ? iso : new Date(Date.parse(iso) + shiftMs).toISOString());
  for (const state of [open.case, add.case]) {
    state.priority = priority;
    for (const g of state.goals) if (g.deadlineAt) g.deadlineAt = shift(g.deadlineAt)!;
  }
  for (const e of open.effects) if (e.type === 'timer.schedule') e.timer.dueAt = shift(e.timer.dueAt)!;
  return [
    { previousVersion: undefined, next: open.case, effects: open.effects, journal: open.journal },
    { previousVersion: open.case.version, previous: open.case, next: add.case, effects: add.effects, journal: add.journal },
  ];
}

async function main() {
  const bench = await createBenchDatabase(SERVER_URL);
  const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/nonexistent', poolSize: POOL });
  const jobs = createInProcessJobQueue({ logger });
  try {
    await migrateToLatest(database.db);
    const core = await assembleCore({ database, jobs, logger, templatesDir: path.resolve(import.meta.dirname, 'catalog') });
    const db = database.db;
    const system = { id: 'bench', role: 'supervisor' as const };

    // --- seed
    const seedStart = performance.now();
    const prototypes: [Ok, Ok][] = [];
    for (let q = 0; q < QUEUES; q++) {
      let open: Ok | undefined;
      const opened = await core.runner.run({
        template: { key: 'bench-routing-case' },
        command: { type: 'case.open', input: { title: `prototype ${q}` } },
        actor: system,
        respond: ({ case: c, decision }) => ((open = decision), { statusCode: 201, body: { id: c.id } }),
      });
      let add: Ok | undefined;
      await core.runner.run({
        caseId: (opened.body as { id: string }).id,
        command: { type: 'fragment.add', source: { kind: 'inline', definition: { title: `Work ${q}`, machine: machineFor(q) } } },
        actor: system,
        respond: ({ decision }) => ((add = decision), { statusCode: 201, body: {} }),
      });
      prototypes.push([open!, add!]);
    }
    for (let start = QUEUES; start < CASES; start += BATCH) {
      const clones = Array.from({ length: Math.min(BATCH, CASES - start) }, (_, k) => {
        const i = start + k;
        return cloneDecisions(prototypes[i % QUEUES]!, PRIORITIES[i % PRIORITIES.length]!, ((i * 7919) % 480) * 60_000);
      });
      await db.transaction().execute(async (trx) => {
        await saveDecisions(trx, clones.map((c) => c[0]));
        await saveDecisions(trx, clones.map((c) => c[1]));
      });
    }
    await sql`vacuum analyze tasks`.execute(db);
    await sql`vacuum analyze cases`.execute(db);
    const seeded = await sql<{ n: number }>`select count(*)::int as n from tasks where status = 'open' and assignee_id is null`.execute(db);
    console.log(`seeded ${seeded.rows[0]!.n} open tasks in ${CASES} cases across ${QUEUES} queues in ${round((performance.now() - seedStart) / 1000)} s`);

    // --- people: two teams each, every skill at level 1-3, capacities from 20 to 100 units
    const users = createUserStore(db);
    const agents: string[] = [];
    for (let a = 0; a < AGENTS; a++) {
      const id = `agent-${a}`;
      const skills = Object.fromEntries(Array.from({ length: SKILLS }, (_, k) => [`skill-${k}`, 1 + ((a + k) % 3)]));
      await users.insert(
        decideUser(undefined, {
          type: 'create',
          user: {
            id, username: id, displayName: `Agent ${a}`, role: 'agent', teams: [`queue-${a % QUEUES}`, `queue-${(a + 7) % QUEUES}`], skills,
            capacity: { default: 20 + (a % 5) * 20, call: 5 + (a % 3) * 5 }, presence: 'available',
          },
        }, { actor: system, now: new Date() }),
      );
      agents.push(id);
    }

    // --- pull
    const latencies: number[] = [];
    const handed: string[] = [];
    let empty = 0;
    const started = performance.now();
    await Promise.all(
      agents.map(async (id) => {
        for (let n = 0; n < PULLS; n++) {
          const t0 = performance.now();
          const response = await core.work.next({
            actor: { id, role: 'agent' },
            respond: (_s, taskId) => ({ statusCode: 200, body: { taskId } }),
            none: (reason) => ({ statusCode: 200, body: { taskId: null, reason } }),
          });
          latencies.push(performance.now() - t0);
          const taskId = (response.body as { taskId: string | null }).taskId;
          if (taskId === null) {
            empty++;
            return;
          }
          handed.push(taskId);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);

    // --- check from the rows
    const doubles = await sql<{ n: number }>`
      select count(*)::int as n from (
        select data->>'taskId' from journal where type = 'task.assigned' group by 1 having count(*) > 1) d`.execute(db);
    const clientDoubles = handed.length - new Set(handed).size;
    const breaches = await sql<{ n: number }>`
      select count(*)::int as n from (
        select u.id, b.bucket, b.units, coalesce((u.capacity->>b.bucket)::int, 0) as cap
        from users u cross join lateral (
          select case when u.capacity ? t.kind then t.kind else 'default' end as bucket, sum(t.effort)::int as units
          from tasks t where t.assignee_id = u.id and t.status = 'open' group by 1) b
        where b.units > coalesce((u.capacity->>b.bucket)::int, 0)) x`.execute(db);
    const assignedRows = await sql<{ n: number }>`select count(*)::int as n from tasks where assignee_id is not null and status = 'open'`.execute(db);

    const result = {
      bench: 'routing',
      open_tasks: seeded.rows[0]!.n,
      queues: QUEUES,
      skills: SKILLS,
      agents: AGENTS,
      pool: POOL,
      assignments: handed.length,
      assigned_rows: assignedRows.rows[0]!.n,
      pulls_empty: empty,
      seconds: round(seconds, 2),
      assignments_per_s: round(handed.length / seconds),
      p50_ms: round(percentile(latencies, 50), 2),
      p99_ms: round(percentile(latencies, 99), 2),
      doubles: doubles.rows[0]!.n + clientDoubles,
      capacity_breaches: breaches.rows[0]!.n,
    };
    console.log(
      `${result.assignments} assignments by ${AGENTS} agents in ${result.seconds} s: ${result.assignments_per_s}/s, ` +
        `p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms; doubles ${result.doubles}, capacity breaches ${result.capacity_breaches}, ` +
        `${empty} agents ended with nothing that fits`,
    );
    console.log(JSON.stringify(result));
    if (result.doubles !== 0 || result.capacity_breaches !== 0 || result.assigned_rows !== result.assignments) process.exitCode = 1;
  } finally {
    await jobs.close();
    await database.close();
    if (process.env.BENCH_KEEP === '1') console.error(`kept ${bench.url}`);
    else await bench.drop();
  }
}

await main();
