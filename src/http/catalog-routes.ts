/** /v1/templates and /v1/fragments: the catalog, read-only. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Catalog } from '../commands/catalog.js';
import { TesseraError } from '../errors.js';

const KeyParams = Type.Object({ key: Type.String({ maxLength: 200 }) });
const VersionQuery = Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });

export const catalogRoutes: FastifyPluginAsyncTypebox<{ catalog: Catalog; sync?: () => Promise<unknown> }> = async (app, { catalog, sync }) => {
  // The lists read the latest versions: one published by another process shows at once.
  if (sync) app.addHook('onRequest', async () => void (await sync()));

  app.get('/v1/templates', { schema: { tags: ['catalog'], summary: 'Case templates (latest version of each)' } }, async () => ({
    items: catalog.templates(),
  }));

  app.get(
    '/v1/templates/:key',
    { schema: { tags: ['catalog'], summary: 'One case template (latest, or ?version=)', params: KeyParams, querystring: VersionQuery } },
    async (request) => {
      const template = catalog.template(request.params.key, request.query.version);
      if (!template) throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${request.params.key}; GET /v1/templates lists them`);
      return template;
    },
  );

  app.get('/v1/fragments', { schema: { tags: ['catalog'], summary: 'The fragment library (latest version of each)' } }, async () => ({
    items: catalog.fragments(),
  }));

  app.get(
    '/v1/fragments/:key',
    { schema: { tags: ['catalog'], summary: 'One fragment definition (latest, or ?version=)', params: KeyParams, querystring: VersionQuery } },
    async (request) => {
      const version = request.query.version ?? catalog.fragments().find((f) => f.key === request.params.key)?.version;
      const definition = version === undefined ? undefined : catalog.fragment(`${request.params.key}@${version}`);
      if (!definition) throw new TesseraError('FRAGMENT_NOT_FOUND', `No fragment ${request.params.key} in the library; GET /v1/fragments lists them`);
      return definition;
    },
  );
};
