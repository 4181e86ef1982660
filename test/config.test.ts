import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('gives embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, role: 'all', logLevel: 'info', databaseUrl: undefined, redisUrl: undefined });
    expect(config.dataDir).toBe(path.resolve('./.tessera'));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the variable and the expectation for a bad port', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(new ConfigError('PORT must be an integer from 0 to 65535 (got "abc")'));
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/^PORT must be an integer/);
  });

  it('refuses unknown roles and log levels with the allowed values', () => {
    expect(() => loadConfig({ TESSERA_ROLE: 'boss' })).toThrow('TESSERA_ROLE must be one of all, api, worker (got "boss")');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of fatal, error/);
  });

  it('refuses URLs of the wrong kind', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow('DATABASE_URL must use postgres: or postgresql: (got "mysql:")');
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL must be a URL/);
  });

  it('needs Redis and Postgres for a separate worker', () => {
    expect(() => loadConfig({ TESSERA_ROLE: 'worker', DATABASE_URL: 'postgres://h/db' })).toThrow(/needs REDIS_URL/);
    expect(() => loadConfig({ TESSERA_ROLE: 'api' })).toThrow(/needs DATABASE_URL/);
    expect(loadConfig({ TESSERA_ROLE: 'worker', DATABASE_URL: 'postgres://h/db', REDIS_URL: 'redis://h:6379' }).role).toBe('worker');
  });

  it('refuses a short admin key', () => {
    expect(() => loadConfig({ TESSERA_ADMIN_KEY: 'short' })).toThrow(/TESSERA_ADMIN_KEY must be at least 24 characters/);
  });
});
