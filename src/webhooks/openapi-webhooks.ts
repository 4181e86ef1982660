/**
 * The event catalog as OpenAPI 3.1 `webhooks`: one entry per event type, describing the signed
 * CloudEvents POST a subscriber receives (body schema, Standard Webhooks headers, expected 2xx).
 */
import type { OpenAPIV3_1 } from 'openapi-types';
import { EVENT_TYPES } from './event-catalog.js';
import { CONTENT_TYPE } from './signed-event.js';

const header = (description: string) => ({ required: true, schema: { type: 'string' }, description });

export function openApiWebhooks(): Record<string, OpenAPIV3_1.PathItemObject> {
  return Object.fromEntries(
    EVENT_TYPES.map((event) => [
      event.type,
      {
        post: {
          summary: event.description,
          description:
            'Sent to subscriptions that name this type (or "*"). Verify `webhook-signature` with the subscription secret ' +
            '(Standard Webhooks), deduplicate by `webhook-id`, answer 2xx quickly. Other answers are retried with ' +
            'exponential backoff until the attempts run out; then the delivery is dead-lettered (replay it from the API).',
          parameters: [
            { in: 'header', name: 'webhook-id', ...header('The delivery id; the same on every retry and replay') },
            { in: 'header', name: 'webhook-timestamp', ...header('Unix seconds when this attempt was signed') },
            { in: 'header', name: 'webhook-signature', ...header('Space-separated `v1,<base64 HMAC-SHA256>` signatures') },
          ],
          requestBody: {
            required: true,
            content: {
              [CONTENT_TYPE.split(';')[0]!]: {
                schema: {
                  type: 'object',
                  required: ['specversion', 'id', 'source', 'type', 'subject', 'time', 'data'],
                  properties: {
                    specversion: { const: '1.0' },
                    id: { type: 'string', description: 'Event id, the same for every subscription' },
                    source: { type: 'string' },
                    type: { const: event.type },
                    subject: { type: 'string', description: 'Case id' },
                    time: { type: 'string', format: 'date-time' },
                    datacontenttype: { const: 'application/json' },
                    data: event.schema,
                  },
                },
              },
            },
          },
          responses: { '2XX': { description: 'Received; no retry' } },
        },
      } as OpenAPIV3_1.PathItemObject,
    ]),
  );
}
