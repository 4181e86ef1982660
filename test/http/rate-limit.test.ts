/**
 * Rate limits per API key. In queue mode the counter lives in Redis under the deployment prefix,
 * so two API processes sharing Redis enforce one limit per key; another key is unaffected; a
 * refused request does nothing; probes are exempt; callers without a valid key are counted per IP.
 * In embedded mode (no Redis) the counter is in process memory.
 */
import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { assembleCore } from '../../src/core.js';
import { createInProcessJobQueue } from '../../src/platform/in-process-job-queue.js';
import { createActor, type Actor } from '../support/actors.js';
import { expectProblem } from '../support/case-api.js';
import { openTestDatabase, silentLogger, startTestApp, testConfig, testSecretBox, TEMPLATES_DIR, bearer } from '../support/platform.js';

const LIMIT = 3;
// A prefix of this file's own (still under the run's prefix, so the run's cleanup removes it):
// no other test file's requests share these counters.
const PREFIX = `${inject('redisPrefix')}-ratelimit`;
const limited = { TESSERA_RATE_LIMIT_PER_MINUTE: String(LIMIT), TESSERA_REDIS_PREFIX: PREFIX };

type TestApp = Awaited<ReturnType<typeof startTestApp>>;
let one: TestApp;
let two: TestApp;
let redis: Redis;

beforeAll(async () => {
  [one, two] = await Promise.all([startTestApp({ config: limited }), startTestApp({ config: limited })]);
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  redis.disconnect();
  await Promise.all([one.close(), two.close()]);
});

/** A client address of its own per test, so counters per IP do not meet. */
const someIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

const me = (app: TestApp, actor: Actor, remoteAddress = someIp()) =>
  app.app.inject({ method: 'GET', url: '/v1/me', headers: actor.headers, remoteAddress });

describe('rate limits in queue mode (Redis)', () => {
  it('one counter per API key across two API processes; the next request is a 429 problem with Retry-After', async () => {
    const agent = await createActor(one.database.db, 'agent');
    const answers = [await me(one, agent), await me(two, agent), await me(one, agent)];
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(answers.map((r) => r.headers['ratelimit-remaining'])).toEqual(['2', '1', '0']);
    expect(answers[0]!.headers['ratelimit-limit']).toBe(String(LIMIT));

    const refused = await me(two, agent);
    const problem = expectProblem(refused, 429, 'RATE_LIMITED');
    expect(problem.detail).toMatch(/More than 3 requests per minute from this API key; retry in/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    // The counter is the key's, in Redis under the deployment prefix.
    expect(await redis.get(`${PREFIX}:rate-limit:key:${agent.keyId}`)).toBe('4');
  });

  it('another key is unaffected, on either process', async () => {
    const busy = await createActor(one.database.db, 'agent');
    const calm = await createActor(one.database.db, 'agent');
    for (let i = 0; i < LIMIT; i++) await me(one, busy);
    expectProblem(await me(two, busy), 429, 'RATE_LIMITED');
    expect((await me(one, calm)).statusCode).toBe(200);
    expect((await me(two, calm)).json()).toMatchObject({ user_id: calm.userId });
  });

  it('a refused write changes nothing', async () => {
    const agent = await createActor(one.database.db, 'agent');
    for (let i = 0; i < LIMIT; i++) await me(one, agent);
    const title = `Over the limit ${agent.userId}`;
    const res = await two.app.inject({
      method: 'POST',
      url: '/v1/cases',
      headers: { ...agent.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ template: 'billing-dispute', title }),
    });
    expectProblem(res, 429, 'RATE_LIMITED');
    expect(await one.database.db.selectFrom('cases').select('id').where('title', '=', title).execute()).toEqual([]);
  });

  it('liveness and readiness are never limited', async () => {
    const ip = someIp();
    for (let i = 0; i < LIMIT * 3; i++) {
      expect((await one.app.inject({ method: 'GET', url: '/health', remoteAddress: ip })).statusCode).toBe(200);
      expect((await two.app.inject({ method: 'GET', url: '/ready', remoteAddress: ip })).statusCode).toBe(200);
    }
  });

  it('callers without a valid key are counted per client IP, before the key is even checked', async () => {
    const ip = someIp();
    const guess = (app: TestApp) => app.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(`tsk_guess-${randomInt(1e9)}`), remoteAddress: ip });
    for (let i = 0; i < LIMIT; i++) expectProblem(await guess(i % 2 ? one : two), 401, 'UNAUTHENTICATED');
    expectProblem(await guess(one), 429, 'RATE_LIMITED');
    // Public routes count per IP as well; another address is unaffected.
    expectProblem(await one.app.inject({ method: 'GET', url: '/openapi.json', remoteAddress: ip }), 429, 'RATE_LIMITED');
    expect((await one.app.inject({ method: 'GET', url: '/openapi.json', remoteAddress: someIp() })).statusCode).toBe(200);
  });
});

describe('rate limits in embedded mode (in memory)', () => {
  it('counts per key in the process', async () => {
    const config = testConfig(limited);
    const database = await openTestDatabase();
    const apps = await Promise.all(
      [1, 2].map(async () => {
        const jobs = createInProcessJobQueue({ logger: silentLogger });
        const core = await assembleCore({ database, jobs, logger: silentLogger, templatesDir: TEMPLATES_DIR });
        const app = await buildApp({ config, logger: silentLogger, database, jobs, secrets: testSecretBox(), core });
        return { app, jobs };
      }),
    );
    try {
      const agent = await createActor(database.db, 'agent');
      const call = (i: number) => apps[i]!.app.inject({ method: 'GET', url: '/v1/me', headers: agent.headers });
      for (let i = 0; i < LIMIT; i++) expect((await call(0)).statusCode).toBe(200);
      expectProblem(await call(0), 429, 'RATE_LIMITED');
      // Another process keeps its own count: what embedded mode (one process) needs, and why
      // queue mode counts in Redis.
      expect((await call(1)).statusCode).toBe(200);
      expect(await redis.exists(`${PREFIX}:rate-limit:key:${agent.keyId}`)).toBe(0);
    } finally {
      for (const { app, jobs } of apps) {
        await app.close();
        await jobs.close();
      }
      await database.close();
    }
  });
});

describe('rate limits of signed inbound webhooks', () => {
  it('count per source and sender address, apart from the API budget', async () => {
    const app = await startTestApp({ config: { ...limited, TESSERA_INBOUND_RATE_LIMIT_PER_MINUTE: '2' } });
    try {
      const ip = someIp();
      const post = (source: string) =>
        app.app.inject({ method: 'POST', url: `/v1/inbound/${source}`, headers: { 'content-type': 'application/json' }, payload: '{}', remoteAddress: ip });
      const sourceA = `rl-a-${randomInt(1e9)}`;
      // No such source: refused in the handler (404), but counted first.
      expect([(await post(sourceA)).statusCode, (await post(sourceA)).statusCode]).toEqual([404, 404]);
      expectProblem(await post(sourceA), 429, 'RATE_LIMITED');
      // Another source from the same address has its own budget; so does the API.
      expect((await post(`rl-b-${randomInt(1e9)}`)).statusCode).toBe(404);
      const agent = await createActor(app.database.db, 'agent');
      expect((await me(app, agent, ip)).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
