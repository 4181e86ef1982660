/**
 * `tessera users create|list|disable|set-password`: the admin API's user commands for operators,
 * working whether the server runs or not (like `keys create`): with the embedded server holding
 * the data directory they go through its API with its local admin token; otherwise they open the
 * database and run the same transaction bodies the API runs (commands/user-commands.ts).
 * Passwords are read from standard input, never from arguments (which `ps` shows to everyone).
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import type { Kysely } from 'kysely';
import { changeUserIn, createUserIn } from '../commands/user-commands.js';
import { TesseraError } from '../errors.js';
import { PRESENCES, USER_ROLES, type User } from '../people/user.js';
import type { Database } from '../persistence/schema.js';
import { createUserStore } from '../persistence/user-store.js';
import { DataDirInUseError } from '../platform/data-dir-lock.js';
import { hashPassword, passwordProblems } from '../platform/password-hash.js';
import { migrateToLatest } from '../persistence/migrate.js';
import { userView } from '../http/user-routes.js';
import { callRunningServer, CliError } from './running-server.js';

type WithDatabase = <T>(command: string, fn: (database: { db: Kysely<Database> }) => Promise<T>) => Promise<T>;

const CLI_ACTOR = { id: 'cli', role: 'admin' };
const TEAM = /^[^\s,]{1,200}$/;

function parseTeams(value: string): string[] {
  const teams = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (teams.length === 0 || teams.some((t) => !TEAM.test(t))) throw new InvalidArgumentError(`teams must be comma-separated queue names without spaces (got "${value}")`);
  return teams;
}

/** `refunds=4,german=2` -> { refunds: 4, german: 2 }. */
function parseLevels(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(-?\d+)$/.exec(part);
    if (!m) throw new InvalidArgumentError(`expected name=number pairs like refunds=4,german=2 (got "${part}")`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function readStdinPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password (then Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  const problems = passwordProblems(password);
  if (problems.length > 0) throw new CliError(`the password ${problems[0]!.detail}`, 1);
  return password;
}

/** A TesseraError as one line per problem (the API's errors[] pointers). */
function explain(err: unknown): never {
  if (err instanceof TesseraError) {
    const errors = (err.details?.errors as { pointer: string; detail: string }[] | undefined) ?? [];
    throw new CliError(errors.length > 0 ? errors.map((e) => `${e.pointer.replace(/^\//, '') || 'user'} ${e.detail}`).join('; ') : err.message, 1);
  }
  throw err;
}

/** Runs `offline` on the database, or `online` through the server that holds it. */
async function either<T>(withDatabase: WithDatabase, name: string, offline: (db: Kysely<Database>) => Promise<T>, online: (inUse: DataDirInUseError) => Promise<T>): Promise<T> {
  try {
    return await withDatabase(name, async (database) => {
      await migrateToLatest(database.db);
      return offline(database.db).catch(explain);
    });
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    return online(err);
  }
}

function printUser(u: ReturnType<typeof userView> | Record<string, unknown>, json: boolean | undefined) {
  if (json) process.stdout.write(`${JSON.stringify(u)}\n`);
  else process.stdout.write(`${String(u.id)}\n`);
}

export function usersCommand(withDatabase: WithDatabase): Command {
  const users = new Command('users').description('manage users (agents, supervisors, admins)');

  users
    .command('create')
    .description('create a user (with --password-stdin, one who can sign in)')
    .requiredOption('--username <name>', 'sign-in name (also the id unless --id)')
    .option('--id <id>', 'user id (default: the username)')
    .requiredOption('--name <display name>', 'name shown to colleagues')
    .addOption(new Option('--role <role>', 'role').choices(USER_ROLES).makeOptionMandatory())
    .option('--teams <queues>', 'comma-separated queues they work', parseTeams)
    .option('--skills <levels>', 'skill=level pairs, levels 1-5 (e.g. refunds=4,german=2)', parseLevels)
    .option('--capacity <units>', 'kind=units pairs (e.g. default=5,chat=2)', parseLevels)
    .option('--password-stdin', 'read a password from standard input')
    .option('--json', 'print the user as JSON')
    .action(async (o) => {
      const password = o.passwordStdin ? await readStdinPassword() : undefined;
      const body = {
        ...(o.id ? { id: o.id } : {}),
        username: o.username,
        display_name: o.name,
        role: o.role,
        ...(o.teams ? { teams: o.teams } : {}),
        ...(o.skills ? { skills: o.skills } : {}),
        ...(o.capacity ? { capacity: o.capacity } : {}),
      };
      const created = await either(
        withDatabase,
        'users create',
        async (db) => {
          const passwordHash = password === undefined ? undefined : await hashPassword(password);
          const user = await db.transaction().execute((trx) =>
            createUserIn(trx, {
              user: { id: o.id ?? o.username, username: o.username, displayName: o.name, role: o.role, ...(o.teams ? { teams: o.teams } : {}), ...(o.skills ? { skills: o.skills } : {}), ...(o.capacity ? { capacity: o.capacity } : {}) },
              passwordHash,
              actor: CLI_ACTOR,
              reason: 'tessera users create',
            }),
          );
          return userView(user) as Record<string, unknown>;
        },
        async (inUse) => (await callRunningServer(inUse, { method: 'POST', path: '/v1/users', body: { ...body, ...(password ? { password } : {}) }, expected: 201, what: 'the user' })).answer!,
      );
      printUser(created, o.json);
      if (!o.json) process.stderr.write(`created user ${String(created.id)} (role ${String(created.role)})${password ? ', who can sign in' : ''}\n`);
    });

  users
    .command('list')
    .description('list users')
    .addOption(new Option('--presence <presence>', 'only this presence').choices(PRESENCES))
    .option('--json', 'one JSON object per line')
    .action(async (o) => {
      const all = await either(
        withDatabase,
        'users list',
        async (db) => {
          const store = createUserStore(db);
          const out: User[] = [];
          let after: string | undefined;
          do {
            const page = await store.list({ limit: 100, afterId: after, presence: o.presence });
            out.push(...page.items);
            after = page.next;
          } while (after !== undefined);
          return out.map((u) => userView(u) as Record<string, unknown>);
        },
        async (inUse) => {
          const out: Record<string, unknown>[] = [];
          let cursor: string | null = null;
          do {
            const query = `limit=100${o.presence ? `&presence=${o.presence}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
            const { answer } = await callRunningServer(inUse, { method: 'GET', path: `/v1/users?${query}`, expected: 200, what: 'the list' });
            out.push(...(answer!.items as Record<string, unknown>[]));
            cursor = answer!.next_cursor as string | null;
          } while (cursor);
          return out;
        },
      );
      for (const u of all) {
        if (o.json) process.stdout.write(`${JSON.stringify(u)}\n`);
        else process.stdout.write(`${[u.id, u.role, u.presence, (u.teams as string[]).join(',') || '-', u.disabled ? 'disabled' : 'enabled'].join('\t')}\n`);
      }
    });

  users
    .command('disable')
    .description("disable a user: their API keys and sessions stop working at once")
    .argument('<id>', 'user id')
    .requiredOption('--reason <reason>', 'why (journaled)')
    .action(async (id, o) => {
      await either(
        withDatabase,
        'users disable',
        async (db) => void (await db.transaction().execute((trx) => changeUserIn(trx, { userId: id, actor: CLI_ACTOR, reason: o.reason, command: { type: 'disable' } }))),
        async (inUse) => void (await callRunningServer(inUse, { method: 'POST', path: `/v1/users/${encodeURIComponent(id)}/disable`, body: { reason: o.reason }, expected: 200, what: 'the disable' })),
      );
      process.stderr.write(`disabled user ${id}; their keys and sessions no longer work\n`);
    });

  users
    .command('set-password')
    .description("set a user's password, read from standard input; ends their sessions")
    .argument('<id>', 'user id')
    .action(async (id) => {
      const password = await readStdinPassword();
      await either(
        withDatabase,
        'users set-password',
        async (db) => {
          const passwordHash = await hashPassword(password);
          await db.transaction().execute((trx) => changeUserIn(trx, { userId: id, actor: CLI_ACTOR, reason: 'tessera users set-password', command: { type: 'set_password', passwordHash } }));
        },
        async (inUse) => void (await callRunningServer(inUse, { method: 'PUT', path: `/v1/users/${encodeURIComponent(id)}/password`, body: { password }, expected: 204, what: 'the password' })),
      );
      process.stderr.write(`password set for ${id}; their sessions were ended\n`);
    });

  return users;
}
