import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createSecretBox, decodeSecretKey, openSecretBox, SecretBoxError } from '../../src/platform/secret-box.js';

describe('secret box', () => {
  const box = createSecretBox(randomBytes(32));

  it('round-trips a secret and never stores it in the clear', () => {
    const sealed = box.seal('whsec_abc123');
    expect(sealed).toMatch(/^tsb1\.[0-9a-f]{8}\./);
    expect(sealed).not.toContain('whsec_abc123');
    expect(box.open(sealed)).toBe('whsec_abc123');
    // A fresh IV every time: equal secrets do not give equal sealed values.
    expect(box.seal('whsec_abc123')).not.toBe(sealed);
  });

  it('refuses an altered value and a value sealed under another key', () => {
    const sealed = box.seal('s3cret');
    // Alter a character inside the payload: the last base64 character may only carry padding bits.
    const at = sealed.length - 5;
    const altered = sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1);
    expect(() => box.open(altered)).toThrow(new SecretBoxError('sealed secret was altered'));
    expect(() => createSecretBox(randomBytes(32)).open(sealed)).toThrow(/sealed under key [0-9a-f]{8}, but TESSERA_SECRET_KEY is key/);
    expect(() => box.open('plain')).toThrow('not a sealed secret');
  });

  it('accepts only 32-byte base64 keys in the config', () => {
    expect(decodeSecretKey(randomBytes(32).toString('base64url'))).toHaveLength(32);
    expect(decodeSecretKey(randomBytes(16).toString('base64'))).toBeUndefined();
    expect(() => loadConfig({ TESSERA_SECRET_KEY: 'short' })).toThrow(/TESSERA_SECRET_KEY must be 32 bytes in base64/);
  });

  it('generates and keeps a key in embedded mode, and is required with a shared database', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tessera-key-'));
    const first = await openSecretBox({ secretKey: undefined, embedded: true, dataDir: dir });
    const sealed = first.seal('kept');
    const again = await openSecretBox({ secretKey: undefined, embedded: true, dataDir: dir });
    expect(again.open(sealed)).toBe('kept');
    expect((await stat(path.join(dir, 'secret.key'))).mode & 0o777).toBe(0o600);
    expect(decodeSecretKey(await readFile(path.join(dir, 'secret.key'), 'utf8'))).toHaveLength(32);
    await expect(openSecretBox({ secretKey: undefined, embedded: false, dataDir: dir })).rejects.toThrow(/TESSERA_SECRET_KEY is required with DATABASE_URL/);
  });
});
