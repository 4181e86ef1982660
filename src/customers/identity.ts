/**
 * Identity normalisation: the same person written two ways must be one identity, or the
 * "one identity, one customer" rule would not hold. Pure.
 * - e-mail: trimmed, lower-case (the local part too: mailbox providers treat it so in practice);
 * - phone: `+` and digits only (spaces, dots, dashes, brackets dropped; `00` prefix -> `+`),
 *   8 to 15 digits (E.164 allows at most 15);
 * - handle: trimmed, lower-case, without a leading `@`; needs a channel (`twitter`, `instagram`...).
 */
import { IDENTITY_KINDS, type IdentityInput, type IdentityKind } from './types.js';

export type NormalisedIdentity = { kind: IdentityKind; channel: string; value: string };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CHANNEL = /^[a-z0-9][a-z0-9_.-]{0,39}$/;
const HANDLE = /^[\p{L}\p{N}_.\-]{1,100}$/u;

/** The identity in its stored form, or what is wrong with it (`field` relative to the identity). */
export function normaliseIdentity(input: IdentityInput): { ok: true; identity: NormalisedIdentity } | { ok: false; field: string; detail: string } {
  if (!(IDENTITY_KINDS as readonly string[]).includes(input.kind)) {
    return { ok: false, field: 'kind', detail: `must be one of ${IDENTITY_KINDS.join(', ')}` };
  }
  const raw = typeof input.value === 'string' ? input.value.trim() : '';
  if (raw === '') return { ok: false, field: 'value', detail: 'must not be empty' };
  switch (input.kind) {
    case 'email': {
      const value = raw.toLowerCase();
      if (!EMAIL.test(value) || value.length > 254) return { ok: false, field: 'value', detail: 'must be an e-mail address like ana@example.com' };
      return { ok: true, identity: { kind: 'email', channel: '', value } };
    }
    case 'phone': {
      let digits = raw.replace(/[\s().\-/]/g, '');
      if (digits.startsWith('00')) digits = `+${digits.slice(2)}`;
      const plus = digits.startsWith('+');
      const body = plus ? digits.slice(1) : digits;
      if (!/^\d{8,15}$/.test(body)) {
        return { ok: false, field: 'value', detail: 'must be a phone number of 8-15 digits, ideally in E.164 form like +4915123456789' };
      }
      return { ok: true, identity: { kind: 'phone', channel: '', value: `+${body}` } };
    }
    case 'handle': {
      const channel = (input.channel ?? '').trim().toLowerCase();
      if (!CHANNEL.test(channel)) return { ok: false, field: 'channel', detail: 'a handle needs its channel, e.g. "twitter" (lower-case letters, digits, _ . -)' };
      const value = raw.replace(/^@/, '').toLowerCase();
      if (!HANDLE.test(value)) return { ok: false, field: 'value', detail: 'must be a handle like @ana_k (letters, digits, _ . -)' };
      return { ok: true, identity: { kind: 'handle', channel, value } };
    }
  }
}

/** How an identity is named in messages: `email ana@example.com`, `handle twitter:@ana`. */
export function describeIdentity(i: NormalisedIdentity): string {
  return i.kind === 'handle' ? `handle ${i.channel}:@${i.value}` : `${i.kind} ${i.value}`;
}

export function sameIdentity(a: NormalisedIdentity, b: NormalisedIdentity): boolean {
  return a.kind === b.kind && a.channel === b.channel && a.value === b.value;
}
