/**
 * The demo an empty embedded data directory starts with (`npm start`; TESSERA_DEMO=false opts
 * out; never in queue mode — server.ts decides): an agent and a supervisor who sign in with a
 * generated password, printed once in the log, and a handful of cases from the shipped
 * templates in different states, one of them at risk. Everything goes through the real
 * commands (user create, case open, content add, goal update, timer fire), so the journal,
 * timers, tasks and projections are what production writes.
 *
 * "Empty" means no user and no case yet: a second start finds the demo's own rows and seeds
 * nothing, and a directory someone already works in is never touched.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Command, OpenCaseInput } from '../cases/types.js';
import { createUserCommands } from '../commands/user-commands.js';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import type { Core } from '../core.js';
import { hashPassword } from '../platform/password-hash.js';
import type { Database } from '../persistence/schema.js';

export const DEMO_AGENT = 'ada';
export const DEMO_SUPERVISOR = 'grace';
const SEED_ACTOR = { id: 'demo-seed', role: 'admin' as const };

export interface DemoSeedResult {
  seeded: boolean;
  accounts: { username: string; password: string; role: 'agent' | 'supervisor' }[];
  caseIds: string[];
}

async function isEmpty(db: Kysely<Database>): Promise<boolean> {
  const [user, kase] = await Promise.all([
    db.selectFrom('users').select('id').limit(1).executeTakeFirst(),
    db.selectFrom('cases').select('id').limit(1).executeTakeFirst(),
  ]);
  return user === undefined && kase === undefined;
}

/** 20 characters from 15 random bytes: well past the password rules, easy to copy from a log. */
function generatedPassword(): string {
  return randomBytes(15).toString('base64url');
}

export async function seedDemo(deps: { db: Kysely<Database>; core: Core; writes: IdempotentWriter; logger: Logger }): Promise<DemoSeedResult> {
  const { db, core, writes, logger } = deps;
  if (!(await isEmpty(db))) return { seeded: false, accounts: [], caseIds: [] };

  const users = createUserCommands({ writes });
  const teams = ['social-care', 'social-care-leads', 'billing', 'repairs', 'callbacks'];
  const accounts: DemoSeedResult['accounts'] = [
    { username: DEMO_AGENT, password: generatedPassword(), role: 'agent' },
    { username: DEMO_SUPERVISOR, password: generatedPassword(), role: 'supervisor' },
  ];
  const names: Record<string, string> = { [DEMO_AGENT]: 'Ada Lovelace (demo agent)', [DEMO_SUPERVISOR]: 'Grace Hopper (demo supervisor)' };
  for (const a of accounts) {
    await users.create(undefined, {
      user: { id: a.username, username: a.username, displayName: names[a.username]!, role: a.role, teams, presence: 'available' },
      passwordHash: await hashPassword(a.password),
      actor: SEED_ACTOR,
      reason: 'demo seed on an empty data directory',
      view: () => null,
    });
  }

  const supervisor = { id: DEMO_SUPERVISOR, role: 'supervisor' as const };
  const open = async (template: string, input: OpenCaseInput): Promise<string> => {
    const response = await core.runner.run({
      template: { key: template },
      command: { type: 'case.open', input },
      actor: supervisor,
      respond: ({ case: c }) => ({ statusCode: 201, body: { id: c.id } }),
    });
    return (response.body as { id: string }).id;
  };
  const run = async (caseId: string, command: Command) => {
    await core.runner.run({ caseId, command, actor: supervisor, respond: ({ case: c }) => ({ statusCode: 200, body: { version: c.version } }) });
  };

  const caseIds: string[] = [];
  // 1. A social complaint whose post is spreading: the reach escalation raises it and alerts supervisors.
  const viral = await open('social-complaint', { title: 'Viral post: parcel "delivered" but never arrived', customer: { name: 'Mara Okafor', email: 'mara.okafor@example.com' } });
  await run(viral, {
    type: 'content.add',
    kind: 'social_post',
    data: { channel: 'x', post_id: 'demo-1001', author_handle: '@mara_o', text: 'Third time my parcel is "delivered" and it is nowhere. Terrible service, nobody answers!', reach: 64_000 },
  });
  caseIds.push(viral);
  // 2. A billing dispute the agent owns.
  caseIds.push(await open('billing-dispute', { title: 'Charged twice for the March invoice', ownerId: DEMO_AGENT, customer: { name: 'Jonas Berg', email: 'jonas.berg@example.com' } }));
  // 3. A repair whose RMA deadline was moved close: its warning point has passed, so it is at risk.
  const repair = await open('product-repair', { title: 'Espresso machine stopped heating after two weeks', priority: 'high', customer: { name: 'Lena Fischer', email: 'lena.fischer@example.com' } });
  const now = core.now();
  await run(repair, { type: 'goal.update', goalKey: 'rma_issued', deadlineAt: new Date(now.getTime() + 2 * 3_600_000).toISOString(), reason: 'Demo: the customer was promised an RMA today' });
  const warning = await db
    .selectFrom('timers')
    .select('id')
    .where('case_id', '=', repair)
    .where('status', '=', 'pending')
    .where('goal_key', '=', 'rma_issued')
    .where(sql<boolean>`event->>'type' = 'tessera.goal.warning'`)
    .executeTakeFirst();
  // The timer is due already (its point passed); fire it now, as the timer job would a moment later.
  if (warning) await core.runner.fireTimers([{ timerId: warning.id, caseId: repair }]);
  caseIds.push(repair);
  // 4. A callback request waiting in its queue.
  caseIds.push(await open('callback-request', { title: 'Call back about the contract renewal', customer: { name: 'Sam Patel', phone: '+44 20 7946 0018' } }));
  // 5. Another repair, on track, with a note.
  const phone = await open('product-repair', { title: 'Cracked phone screen under warranty', customer: { name: 'Ines Moreau', email: 'ines.moreau@example.com' } });
  await run(phone, { type: 'content.add', kind: 'note', data: { text: 'Customer can bring the phone to the Lyon store on Friday.' } });
  caseIds.push(phone);

  logger.info(
    { demo: { cases: caseIds.length } },
    `Demo seeded (empty data directory; TESSERA_DEMO=false to skip). Sign in at the server's address: agent "${accounts[0]!.username}" with password "${accounts[0]!.password}", supervisor "${accounts[1]!.username}" with password "${accounts[1]!.password}"`,
  );
  return { seeded: true, accounts, caseIds };
}
