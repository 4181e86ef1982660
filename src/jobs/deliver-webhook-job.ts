import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { RunningJob } from '../platform/job-queue.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { Database } from '../persistence/schema.js';
import { claimAttempt, findDeliveryProgress, recordAttempt, recordAttemptSent, type AttemptOutcome, type ClaimedAttempt } from '../persistence/webhook-store.js';
import type { WebhookRelay } from '../relay/webhook-relay.js';
import { backoffDelayMs } from '../webhooks/backoff.js';
import { sendWebhook, type SendWebhook } from '../webhooks/send-webhook.js';
import { signedRequest } from '../webhooks/signed-event.js';
import type { SsrfGuard } from '../webhooks/ssrf-guard.js';
import type { DeliverWebhookJob } from './queues.js';
import { inSpan, SpanKind, traceHeaders } from '../platform/tracing.js';

export interface DeliverWebhookDeps {
  db: Kysely<Database>;
  relay: WebhookRelay;
  secrets: SecretBox;
  guard: SsrfGuard;
  logger: Logger;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
  send?: SendWebhook;
  now?: () => Date;
  random?: () => number;
  /** Told each attempt's result (metrics). Must not throw. */
  onOutcome?: (status: AttemptOutcome['status']) => void;
}

/** How long a claimed attempt may take before the reconciler treats its worker as gone. */
const LEASE_MARGIN_MS = 30_000;

/**
 * One attempt of one delivery: claim it (a duplicate job or a stale one finds nothing to claim),
 * re-check the URL against the SSRF guard, log what is about to be sent (outcome `unknown`), POST
 * the signed CloudEvent to the approved address, then complete the attempt and the delivery's next state in one transaction: 2xx -> delivered;
 * otherwise pending with the next attempt time written to the row (so a Redis flush loses
 * nothing) and only then scheduled; after `maxAttempts` tries in this run -> dead.
 * Throws only when the database fails (the job retries).
 */
export function deliverWebhookProcessor(deps: DeliverWebhookDeps) {
  const now = deps.now ?? (() => new Date());
  const send = deps.send ?? sendWebhook;

  async function attempt(claimed: ClaimedAttempt, at: Date): Promise<Omit<AttemptOutcome, 'status' | 'nextAttemptAt'>> {
    const { delivery, subscription, event } = claimed;
    const base = { n: delivery.attempts, at, url: subscription.url };
    if (!subscription.enabled) {
      return { ...base, statusCode: null, error: 'the subscription is disabled', responseBody: null, durationMs: 0 };
    }
    const verdict = await deps.guard.check(subscription.url);
    if (!verdict.ok) {
      return { ...base, statusCode: null, error: `refused before connecting: the URL ${verdict.reason}`, responseBody: null, durationMs: 0 };
    }
    let secrets: string[];
    try {
      secrets = [deps.secrets.open(subscription.secret_sealed)];
      if (subscription.previous_secret_sealed && subscription.previous_secret_expires_at && new Date(subscription.previous_secret_expires_at) > at) {
        secrets.push(deps.secrets.open(subscription.previous_secret_sealed));
      }
    } catch (err) {
      // A changed TESSERA_SECRET_KEY: retrying cannot help until an operator fixes the key, so it
      // counts as a failed attempt (and ends dead-lettered, replayable) instead of looping.
      return { ...base, statusCode: null, error: `cannot open the signing secret: ${(err as Error).message}`, responseBody: null, durationMs: 0 };
    }
    const signed = signedRequest(delivery.id, event, secrets, at);
    // Logged before it leaves: a crash after the receiver answered must not erase the attempt.
    await recordAttemptSent(deps.db, delivery.id, {
      n: delivery.attempts,
      at,
      url: subscription.url,
      address: verdict.address.address,
      webhookTimestamp: Number(signed.headers['webhook-timestamp']),
      bodySha256: createHash('sha256').update(signed.body).digest('hex'),
      bodyBytes: Buffer.byteLength(signed.body),
    });
    // The receiver gets the trace (`traceparent`) beside the signature; it is not part of what is signed.
    const response = await inSpan('webhook POST', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'POST', 'tessera.delivery_id': delivery.id } }, () =>
      send({ url: verdict.url, address: verdict.address, headers: { ...signed.headers, ...traceHeaders() }, body: signed.body, timeoutMs: deps.timeoutMs }),
    );
    const ok = response.statusCode !== null && response.statusCode >= 200 && response.statusCode < 300;
    return {
      ...base,
      statusCode: response.statusCode,
      error: ok ? null : (response.error ?? `the receiver answered ${response.statusCode}`),
      responseBody: response.body,
      durationMs: response.durationMs,
    };
  }

  return async (job: RunningJob<DeliverWebhookJob>): Promise<void> => {
    const at = now();
    const claimed = await claimAttempt(deps.db, job.data.deliveryId, job.data.attempt, at, new Date(at.getTime() + deps.timeoutMs + LEASE_MARGIN_MS));
    if (!claimed) {
      // A job that came early (clock skew) is put back for the rest of the wait; any other is stale.
      const progress = await findDeliveryProgress(deps.db, job.data.deliveryId);
      if (progress?.status === 'pending' && progress.attempts === job.data.attempt - 1 && progress.next_attempt_at) {
        const due = new Date(progress.next_attempt_at);
        if (due > at) await deps.relay.armDeliveries([{ id: job.data.deliveryId, attempt: job.data.attempt, nextAttemptAt: due }], `-w${Date.now().toString(36)}`);
      }
      return;
    }
    const result = await attempt(claimed, at);
    let outcome: AttemptOutcome;
    if (result.statusCode !== null && result.error === null) {
      outcome = { ...result, status: 'delivered', nextAttemptAt: null };
    } else if (!claimed.subscription.enabled || claimed.delivery.run_attempts >= deps.maxAttempts) {
      outcome = { ...result, status: 'dead', nextAttemptAt: null };
    } else {
      const delay = backoffDelayMs(claimed.delivery.run_attempts, { baseMs: deps.backoffBaseMs, maxMs: deps.backoffMaxMs }, deps.random);
      outcome = { ...result, status: 'pending', nextAttemptAt: new Date(now().getTime() + delay) };
    }
    await recordAttempt(deps.db, claimed.delivery.id, outcome);
    deps.onOutcome?.(outcome.status);
    if (outcome.status === 'dead') {
      deps.logger.warn({ deliveryId: claimed.delivery.id, subscriptionId: claimed.subscription.id, error: outcome.error }, 'webhook delivery dead-lettered');
    }
    if (outcome.status === 'pending' && outcome.nextAttemptAt) {
      await deps.relay.armDeliveries([{ id: claimed.delivery.id, attempt: claimed.delivery.attempts + 1, nextAttemptAt: outcome.nextAttemptAt }]);
    }
  };
}
