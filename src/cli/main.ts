/**
 * `tessera` — operator commands. Each opens only what it needs and closes it before exiting.
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { pino } from 'pino';
import { ROLES } from '../cases/types.js';
import { ConfigError, loadConfig } from '../config.js';
import { createApiKeyStore } from '../persistence/api-key-store.js';
import { migrateToLatest } from '../persistence/migrate.js';
import { DataDirInUseError, describeHolder, lockDataDir } from '../platform/data-dir-lock.js';
import { openDatabase } from '../platform/database.js';
import { CliError, createKeyOnRunningServer, type CreatedKey } from './running-server.js';
import { loggerOptions } from '../platform/logger.js';
import { loadStoredDefinitions } from '../persistence/definition-store.js';
import { compareWithStored } from '../templates/compare-with-stored.js';
import { loadCatalog } from '../templates/load-catalog.js';
import { formatProblems } from '../templates/load-problem.js';
import path from 'node:path';
import { usersCommand } from './users-command.js';

const TEAM = /^[^\s,]{1,200}$/;

function config() {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tessera: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Opens the database for one command. Embedded: takes the data directory's lock first and
 * throws DataDirInUseError when a server (or another command) holds it — the files are not
 * opened then, since a second PGlite on them would lose writes.
 */
async function withDatabase<T>(command: string, fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const cfg = config();
  const dataDirLock = cfg.databaseUrl ? undefined : await lockDataDir(cfg.dataDir, `tessera ${command}`);
  try {
    const database = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, ...(dataDirLock ? { dataDirLock } : {}) });
    try {
      return await fn(database);
    } finally {
      await database.close();
    }
  } finally {
    await dataDirLock?.release();
  }
}

/** `a,b` -> ['a', 'b']; each must look like a queue id (no spaces, 1-200 characters). */
function parseTeams(value: string): string[] {
  const teams = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const bad = teams.find((t) => !TEAM.test(t));
  if (bad !== undefined || teams.length === 0) {
    throw new InvalidArgumentError(`teams must be comma-separated queue ids without spaces (got "${value}")`);
  }
  return teams;
}

const program = new Command()
  .name('tessera')
  .description('Tessera adaptive case management: operator commands')
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply pending database migrations (DATABASE_URL, or the embedded database under TESSERA_DATA_DIR)')
  .action(async () => {
    const results = await withDatabase('migrate', (database) => migrateToLatest(database.db)).catch((err: unknown) => {
      if (!(err instanceof DataDirInUseError)) throw err;
      throw new CliError(
        `${describeHolder(err.dataDir, err.holder)}. A server applies pending migrations when it starts (TESSERA_MIGRATE_ON_START); to run them by hand, stop it first.`,
        3,
      );
    });
    const logger = pino(loggerOptions('info'));
    if (results.length === 0) logger.info('database is up to date');
    for (const r of results) logger.info({ migration: r.migrationName, status: r.status }, 'migration');
  });

const keys = program.command('keys').description('manage API keys');
keys
  .command('create')
  .description('create an API key and print it once (it is stored hashed)')
  .addOption(new Option('--role <role>', 'role of the key').choices(ROLES).makeOptionMandatory())
  .requiredOption('--user <id>', 'user id the key acts as')
  .option('--name <name>', 'label shown in listings', 'cli')
  .option('--teams <queues>', 'comma-separated queues the agent works (e.g. billing,social)', parseTeams, [] as string[])
  .option('--json', 'print JSON instead of text')
  .action(async (options) => {
    const request = { role: options.role, userId: options.user, name: options.name, teams: options.teams };
    let created: CreatedKey;
    let via = '';
    try {
      created = await withDatabase('keys create', async (database) => {
        await migrateToLatest(database.db);
        return createApiKeyStore(database.db).create(request);
      });
    } catch (err) {
      // An embedded server holds the data directory: ask it, over loopback, with its local token.
      if (!(err instanceof DataDirInUseError)) throw err;
      const viaServer = await createKeyOnRunningServer(err, request);
      created = viaServer;
      via = ` through the running server (process ${viaServer.serverPid})`;
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ id: created.keyId, key: created.key, role: created.role, user_id: created.userId, teams: created.teams })}\n`);
    } else {
      process.stdout.write(`${created.key}\n`);
      const teams = created.teams.length > 0 ? `, teams ${created.teams.join(',')}` : '';
      process.stderr.write(`created key ${created.keyId} (role ${created.role}, user ${created.userId}${teams})${via}; it is not shown again\n`);
    }
  });

program.addCommand(usersCommand(withDatabase));

const templates = program.command('templates').description('case templates and the fragment library');
templates
  .command('validate')
  .description('validate case-templates/ (schemas, machines, expressions); with a database, also refuse changed published versions')
  .argument('[dir]', 'catalog directory (default: TESSERA_TEMPLATES_DIR or ./case-templates)')
  .option('--offline', 'do not compare with the versions stored in the database')
  .action(async (dir, options) => {
    const cfg = config();
    const loaded = await loadCatalog(dir ? path.resolve(dir) : cfg.templatesDir);
    const problems = [...loaded.problems];
    if (!options.offline && cfg.databaseUrl) {
      const database = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
      try {
        const stored = await loadStoredDefinitions(database.db);
        problems.push(...compareWithStored(loaded, stored));
      } finally {
        await database.close();
      }
    }
    if (problems.length > 0) {
      process.stderr.write(`${formatProblems(problems)}\n`);
      process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `ok: ${loaded.templates.length} templates (${loaded.templates.map((t) => `${t.key}@${t.version}`).join(', ')}), ${loaded.fragments.length} fragments\n`,
    );
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`tessera: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof CliError ? err.exitCode : err instanceof DataDirInUseError ? 3 : 1);
});
