/**
 * What goes on the wire: a CloudEvents 1.0 structured JSON body, signed per Standard Webhooks.
 * The `webhook-id` is the delivery id (the same on every attempt and replay, so receivers
 * deduplicate by it); the CloudEvents `id` is the event id (the same for every subscription).
 * Each attempt is signed afresh with its own timestamp, by the current secret and, during a
 * rotation, by the previous one as well (receivers accept either).
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new signing secret, `whsec_` + base64 of 32 random bytes (the Standard Webhooks form). */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface OutboundEventRow {
  id: string;
  /** A case's event; null for a customer's (then `customer_id`). */
  case_id: string | null;
  customer_id?: string | null;
  type: string;
  data: Record<string, unknown>;
  occurred_at: Date;
}

export function cloudEvent(event: OutboundEventRow) {
  return {
    specversion: '1.0',
    id: event.id,
    source: 'tessera',
    type: event.type,
    subject: event.case_id ?? event.customer_id ?? '',
    time: event.occurred_at.toISOString(),
    datacontenttype: 'application/json',
    data: event.data,
  };
}

export const CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** Body and headers of one attempt. `secrets`: current first, then any still valid previous one. */
export function signedRequest(webhookId: string, event: OutboundEventRow, secrets: string[], now: Date) {
  const body = JSON.stringify(cloudEvent(event));
  const signature = secrets.map((secret) => new Webhook(secret).sign(webhookId, now, body)).join(' ');
  return {
    body,
    headers: {
      'content-type': CONTENT_TYPE,
      'user-agent': 'Tessera-Webhooks/1',
      'webhook-id': webhookId,
      'webhook-timestamp': Math.floor(now.getTime() / 1000).toString(),
      'webhook-signature': signature,
    },
  };
}
