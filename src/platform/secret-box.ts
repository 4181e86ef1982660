/**
 * Secrets Tessera must use again later (webhook signing secrets of inbound sources and outbound
 * subscriptions) are stored encrypted with AES-256-GCM under one deployment key,
 * TESSERA_SECRET_KEY. API keys are only ever compared, so they are hashed instead (api-key-store).
 *
 * Sealed form: `tsb1.<key id>.<base64url iv|tag|ciphertext>`. The key id (a hash prefix of the
 * key) makes "sealed under another key" a clear error instead of a failed tag check.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const VERSION = 'tsb1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const SECRET_KEY_BYTES = 32;

export interface SecretBox {
  seal(plaintext: string): string;
  /** Throws SecretBoxError when the value was sealed under another key or was altered. */
  open(sealed: string): string;
}

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

/** Decodes a base64 (or base64url) key of exactly 32 bytes; undefined when it is not one. */
export function decodeSecretKey(text: string): Buffer | undefined {
  const normalized = text.trim().replaceAll('-', '+').replaceAll('_', '/');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(normalized)) return undefined;
  const key = Buffer.from(normalized, 'base64');
  return key.length === SECRET_KEY_BYTES ? key : undefined;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== SECRET_KEY_BYTES) throw new SecretBoxError(`the secret key must be ${SECRET_KEY_BYTES} bytes`);
  const keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${keyId}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed) {
      const [version, sealedKeyId, payload] = sealed.split('.');
      if (version !== VERSION || !sealedKeyId || payload === undefined) throw new SecretBoxError('not a sealed secret');
      if (sealedKeyId !== keyId) {
        throw new SecretBoxError(`sealed under key ${sealedKeyId}, but TESSERA_SECRET_KEY is key ${keyId}`);
      }
      const bytes = Buffer.from(payload, 'base64url');
      if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed secret is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError('sealed secret was altered');
      }
    },
  };
}

/**
 * The deployment key: TESSERA_SECRET_KEY when set. Embedded mode (one process, its own data
 * directory) may generate one and keep it beside the database; with a shared database every
 * process must be given the same key, so there it is required.
 */
export async function openSecretBox(options: { secretKey: Buffer | undefined; embedded: boolean; dataDir: string }): Promise<SecretBox> {
  if (options.secretKey) return createSecretBox(options.secretKey);
  if (!options.embedded) {
    throw new SecretBoxError('TESSERA_SECRET_KEY is required with DATABASE_URL (generate one with `openssl rand -base64 32`)');
  }
  const file = path.join(options.dataDir, 'secret.key');
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    const key = decodeSecretKey(existing);
    if (!key) throw new SecretBoxError(`${file} does not hold a base64 key of ${SECRET_KEY_BYTES} bytes`);
    return createSecretBox(key);
  }
  const key = randomBytes(SECRET_KEY_BYTES);
  await mkdir(options.dataDir, { recursive: true });
  await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return createSecretBox(key);
}
