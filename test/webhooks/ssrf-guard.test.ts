import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { backoffDelayMs } from '../../src/webhooks/backoff.js';
import { createSsrfGuard, isAllowlistEntry } from '../../src/webhooks/ssrf-guard.js';
import { tableResolver } from './webhook-stack.js';

// The resolver is a table: no test here asks DNS or opens a socket, so a buggy guard shows up as
// a wrong verdict, never as a request to a real address.
const resolver = () =>
  tableResolver({
    'hooks.example.com': ['93.184.216.34'],
    'inside.example.com': ['10.1.2.3'],
    'metadata.example.com': ['169.254.169.254'],
    'local.example.com': ['127.0.0.1'],
    'v6local.example.com': ['::1'],
    'mixed.example.com': ['93.184.216.34', '192.168.1.10'],
  });

describe('SSRF guard', () => {
  it.each([
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://127.9.9.9:8080/hook', 'loopback'],
    ['https://10.0.0.1/hook', 'private'],
    ['https://10.255.1.2/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://172.16.5.4/', 'private'],
    ['http://192.168.0.1/', 'private'],
    ['http://100.64.0.1/', 'carrier-grade NAT'],
    ['http://0.0.0.0/', '"this network"'],
    ['http://2130706433/', 'loopback'], // decimal form of 127.0.0.1
    ['http://0x7f.1/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped'],
    ['http://[::ffff:a9fe:a9fe]/', 'IPv4-mapped'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[fd00:ec2::254]/', 'unique-local'],
    ['http://224.0.0.1/', 'multicast'],
  ])('refuses %s (%s) without resolving anything', async (url, range) => {
    const resolveHost = resolver();
    const verdict = await createSsrfGuard({ allowlist: [], resolveHost }).check(url);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reason).toContain(range);
      expect(verdict.reason).toContain('TESSERA_WEBHOOK_ALLOWLIST');
    }
    expect(resolveHost.asked).toEqual([]);
  });

  it.each([
    ['https://inside.example.com/hook', '10.1.2.3'],
    ['https://metadata.example.com/', '169.254.169.254'],
    ['https://local.example.com/', '127.0.0.1'],
    ['https://v6local.example.com/', '::1'],
    ['https://mixed.example.com/', '192.168.1.10'],
  ])('refuses %s, a host name that resolves to %s', async (url, address) => {
    const resolveHost = resolver();
    const verdict = await createSsrfGuard({ allowlist: [], resolveHost }).check(url);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(`resolves to ${address}`);
    expect(resolveHost.asked).toEqual([new URL(url).hostname]);
  });

  it('approves a public host and returns the address to connect to', async () => {
    const verdict = await createSsrfGuard({ allowlist: [], resolveHost: resolver() }).check('https://hooks.example.com/tessera');
    expect(verdict).toMatchObject({ ok: true, address: { address: '93.184.216.34', family: 4 } });
  });

  it.each([
    ['ftp://hooks.example.com/', 'https'],
    ['file:///etc/passwd', 'https'],
    ['https://user:pw@hooks.example.com/', 'credentials'],
    ['not a url', 'absolute URL'],
    ['https://nowhere.example.com/', 'does not resolve'],
  ])('refuses %s with a reason that says the fix', async (url, words) => {
    const verdict = await createSsrfGuard({ allowlist: [], resolveHost: resolver() }).check(url);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(words);
  });

  it('lets the allowlist name CIDRs and hosts, and nothing else', async () => {
    const guard = createSsrfGuard({ allowlist: ['127.0.0.0/8', 'inside.example.com', '::1'], resolveHost: resolver() });
    expect((await guard.check('http://127.0.0.1:8080/hook')).ok).toBe(true);
    expect((await guard.check('https://inside.example.com/hook')).ok).toBe(true);
    expect((await guard.check('http://[::1]:9000/')).ok).toBe(true);
    expect((await guard.check('https://local.example.com/')).ok).toBe(true); // resolves into 127/8
    expect((await guard.check('http://10.0.0.1/')).ok).toBe(false);
    expect((await guard.check('http://169.254.169.254/')).ok).toBe(false);
    expect((await guard.check('https://metadata.example.com/')).ok).toBe(false);
  });

  it('validates allowlist entries', () => {
    expect(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', 'receiver.internal', 'localhost'].every(isAllowlistEntry)).toBe(true);
    expect(['10.0.0.0/33', 'http://x', '1.2.3', 'a b'].some(isAllowlistEntry)).toBe(false);
  });
});

describe('backoff', () => {
  it('grows exponentially, is capped, and jitters within the upper half', () => {
    const options = { baseMs: 1_000, maxMs: 60_000 };
    expect(backoffDelayMs(1, options, () => 0)).toBe(500);
    expect(backoffDelayMs(1, options, () => 1)).toBe(1_000);
    expect(backoffDelayMs(4, options, () => 1)).toBe(8_000);
    expect(backoffDelayMs(4, options, () => 0)).toBe(4_000);
    expect(backoffDelayMs(30, options, () => 1)).toBe(60_000);
    const samples = Array.from({ length: 50 }, () => backoffDelayMs(3, options));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4_000);
    expect(new Set(samples).size).toBeGreaterThan(1);
  });
});

describe('webhook configuration', () => {
  it('parses the allowlist and delivery settings, and names a bad entry', () => {
    const config = loadConfig({ TESSERA_WEBHOOK_ALLOWLIST: ' 10.1.0.0/16, Receiver.Internal ,::1', TESSERA_WEBHOOK_MAX_ATTEMPTS: '4' });
    expect(config.webhooks).toMatchObject({ allowlist: ['10.1.0.0/16', 'receiver.internal', '::1'], maxAttempts: 4, backoffBaseMs: 30_000, timeoutMs: 10_000 });
    expect(() => loadConfig({ TESSERA_WEBHOOK_ALLOWLIST: '10.0.0.0/40' })).toThrow(ConfigError);
    expect(() => loadConfig({ TESSERA_WEBHOOK_ALLOWLIST: 'http://x' })).toThrow(/TESSERA_WEBHOOK_ALLOWLIST entries must be host names, IP addresses or CIDRs/);
    expect(() => loadConfig({ TESSERA_WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/TESSERA_WEBHOOK_MAX_ATTEMPTS must be an integer from 1 to 100/);
  });
});
