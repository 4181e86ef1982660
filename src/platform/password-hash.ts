/**
 * Password hashes: scrypt from node:crypto (memory-hard; no native dependency), a random 16-byte
 * salt per hash, and the parameters inside the stored string, so they can be raised later and
 * old hashes still verify:
 *
 *   scrypt$ln=15,r=8,p=1$<salt base64url>$<32-byte hash base64url>
 *
 * N = 2^15, r = 8 takes 128·N·r = 32 MiB per hash (OWASP's scrypt minimum is N=2^17,r=8,p=1 or
 * an equivalent; N=2^15 with p=1 is the "interactive login" setting of the scrypt paper, measured
 * here at the time the README gives). Hashing runs on libuv's thread pool (async scrypt), not on
 * the event loop. Comparison is constant-time.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** log2 of N (the cost). */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ ln: 15, r: 8, p: 1 });

const KEY_LENGTH = 32;
const FORMAT = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{40,})$/;

/** Passwords are at most this many bytes: scrypt's cost does not depend on it, but a 1 MB password is no password. */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_LENGTH = 12;

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: 256 * 2 ** params.ln * params.r };
  return new Promise((resolve, reject) => scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, params);
  return `scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * Whether `password` matches `stored`. With `stored` undefined (unknown user, no password set)
 * it hashes against a fixed dummy anyway and answers false, so "no such user" takes as long as
 * "wrong password".
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const match = stored ? FORMAT.exec(stored) : null;
  if (!match) {
    await scrypt(password, DUMMY_SALT, DEFAULT_SCRYPT);
    return false;
  }
  const params = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const expected = Buffer.from(match[5]!, 'base64url');
  const actual = await scrypt(password, Buffer.from(match[4]!, 'base64url'), params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const DUMMY_SALT = randomBytes(16);

/** The password rules, as problems naming the field (empty when it is fine). */
export function passwordProblems(password: string, pointer = '/password'): { pointer: string; detail: string }[] {
  if ([...password].length < MIN_PASSWORD_LENGTH) return [{ pointer, detail: `must be at least ${MIN_PASSWORD_LENGTH} characters (a few unrelated words make a good one)` }];
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return [{ pointer, detail: `must be at most ${MAX_PASSWORD_BYTES} bytes` }];
  if (password.trim() === '') return [{ pointer, detail: 'must not be only spaces' }];
  return [];
}
