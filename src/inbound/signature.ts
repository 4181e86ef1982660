/**
 * Standard Webhooks verification, through the maintained `standardwebhooks` package (HMAC-SHA256
 * over `${webhook-id}.${webhook-timestamp}.${body}`, constant-time compare, ±5 minutes).
 * A source may have two active secrets while it rotates: a message signed with either passes.
 */
import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export const SECRET_PREFIX = 'whsec_';
/** Same as the package's fixed window; said here because the API documents it. */
export const TOLERANCE_SECONDS = 5 * 60;

/** A new signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

export interface WebhookHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

export type VerifyOutcome =
  | { ok: true; secretId: string; sentAt: Date }
  | { ok: false; reason: 'timestamp' | 'signature' };

/**
 * Checks `body` (the exact decoded bytes) against each secret. The timestamp is checked first,
 * and the same way for every secret, so the answer says which check failed but never which secret
 * came close.
 */
export function verifySignature(
  body: string,
  headers: WebhookHeaders,
  secrets: readonly { id: string; verifier: Webhook }[],
): VerifyOutcome {
  const asHeaders = { 'webhook-id': headers.id, 'webhook-timestamp': headers.timestamp, 'webhook-signature': headers.signature };
  for (const secret of secrets) {
    try {
      secret.verifier.verify(body, asHeaders, { jsonParse: false });
      return { ok: true, secretId: secret.id, sentAt: new Date(Number(headers.timestamp) * 1000) };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      if (/timestamp/i.test(err.message)) return { ok: false, reason: 'timestamp' };
    }
  }
  return { ok: false, reason: 'signature' };
}

export function verifierFor(secret: string): Webhook {
  return new Webhook(secret);
}
