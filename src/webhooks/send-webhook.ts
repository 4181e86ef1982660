/**
 * One HTTP POST to a receiver, connected to the address the SSRF guard approved (the URL's host
 * still goes in `Host` and TLS SNI, so certificates check as usual). Redirects are not followed
 * (a 3xx is a failed attempt: following one would bypass the guard). Never throws: the outcome
 * says what happened.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from './ssrf-guard.js';

export interface WebhookRequest {
  url: URL;
  address: ResolvedAddress;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface WebhookResponse {
  statusCode: number | null;
  /** Why there is no usable answer (connection refused, timeout, ...). */
  error: string | null;
  /** The start of the response body, for the delivery log. */
  body: string | null;
  durationMs: number;
}

export type SendWebhook = (request: WebhookRequest) => Promise<WebhookResponse>;

const BODY_LOG_BYTES = 1024;

export const sendWebhook: SendWebhook = (request) => {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // Pins the connection to the checked address, whatever DNS would answer now.
  const pinned: LookupFunction = (_hostname, options, callback) => {
    const { address, family } = request.address;
    if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const transport = request.url.protocol === 'https:' ? https : http;
  return new Promise<WebhookResponse>((resolve) => {
    let settled = false;
    const finish = (response: Omit<WebhookResponse, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...response, durationMs: elapsed() });
    };
    const req = transport.request(
      request.url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body).toString() },
        lookup: pinned,
        timeout: request.timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < BODY_LOG_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).subarray(0, BODY_LOG_BYTES).toString('utf8');
          finish({ statusCode: res.statusCode ?? null, error: null, body: body === '' ? null : body });
        });
        res.on('error', (err) => finish({ statusCode: res.statusCode ?? null, error: `response failed: ${err.message}`, body: null }));
      },
    );
    // The overall deadline covers a receiver that accepts the connection and then stalls.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ statusCode: null, error: err.code ? `${err.code}: ${err.message}` : err.message, body: null }));
    req.on('close', () => clearTimeout(deadline));
    req.end(request.body);
  });
};
