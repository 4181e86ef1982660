/**
 * The JSON body parser of every route (except the signed inbound webhook, which parses the exact
 * bytes itself). What is storable is decided by json/storable-json.ts, shared with inbound/.
 */
import type { FastifyInstance } from 'fastify';
import { parseStorableJson } from '../json/storable-json.js';

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json$/, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseStorableJson(String(body)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
