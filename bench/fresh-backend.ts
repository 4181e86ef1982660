// The first engine command on a fresh Postgres backend vs the next one on the same, warm backend: what pool churn costs.
//   npx tsx bench/fresh-backend.ts    (IDLE=200: the pool's idle timeout in ms, the wait between pairs is IDLE + 150)
import { pino } from 'pino';
import { assembleCore } from '../src/core.js';
import { migrateToLatest } from '../src/persistence/migrate.js';
import { openDatabase } from '../src/platform/database.js';
import { createInProcessJobQueue } from '../src/platform/in-process-job-queue.js';
import { createBenchDatabase, percentile } from './support.js';
const logger = pino({ level: 'warn' });
const bench = await createBenchDatabase('postgres://postgres@127.0.0.1:5432/postgres');
const idle = Number(process.env.IDLE ?? 200);
const database = await openDatabase({ databaseUrl: bench.url, dataDir: '/x', poolSize: 1, idleTimeoutMs: idle });
const jobs = createInProcessJobQueue({ logger });
await migrateToLatest(database.db);
const core = await assembleCore({ database, jobs, logger, templatesDir: new URL('./catalog', import.meta.url).pathname });
const actor = { id: 'bench', role: 'agent' as const };
const r = await core.runner.run({ template: { key: 'bench-case' }, command: { type: 'case.open', input: { title: 'b', ownerId: 'bench' } }, actor, respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }) });
const id = (r.body as any).id;
let n = 0;
const op = async () => { const t0 = performance.now(); await core.runner.run({ caseId: id, command: { type: 'event.send', event: { type: 'NOTE', data: { n: n++ } } }, actor, respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }) }); return performance.now() - t0; };
for (let i = 0; i < 20; i++) await op();
const warm: number[] = []; const cold: number[] = [];
for (let i = 0; i < 15; i++) {
  await new Promise((res) => setTimeout(res, idle + 150)); // the pool closed its idle connection
  cold.push(await op());
  warm.push(await op());
}
warm.sort((a, b) => a - b); cold.sort((a, b) => a - b);
console.log(`first command on a fresh backend: p50 ${percentile(cold, 50).toFixed(1)} ms (max ${cold.at(-1)!.toFixed(1)}); next one, warm: p50 ${percentile(warm, 50).toFixed(1)} ms (max ${warm.at(-1)!.toFixed(1)})`);
await jobs.close(); await database.close(); await bench.drop();
