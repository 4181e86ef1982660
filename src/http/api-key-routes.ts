import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ROLES } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import type { ApiKeyStore } from '../persistence/api-key-store.js';

const RoleSchema = Type.Enum(ROLES);

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ apiKeys: ApiKeyStore }> = async (app, { apiKeys }) => {
  app.get(
    '/v1/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who the presented API key belongs to',
        response: { 200: Type.Object({ user_id: Type.String(), role: RoleSchema, key_id: Type.String() }) },
      },
    },
    async (request) => ({ user_id: request.principal.userId, role: request.principal.role, key_id: request.principal.keyId }),
  );

  app.post(
    '/v1/api-keys',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['auth'],
        summary: 'Create an API key (the secret is shown once)',
        body: Type.Object(
          { role: RoleSchema, user_id: Type.String({ minLength: 1, maxLength: 200 }), name: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ id: Type.String(), key: Type.String(), role: RoleSchema, user_id: Type.String(), name: Type.String() }),
        },
      },
    },
    async (request, reply) => {
      const created = await apiKeys.create({ role: request.body.role, userId: request.body.user_id, name: request.body.name });
      return reply.code(201).send({ id: created.keyId, key: created.key, role: created.role, user_id: created.userId, name: created.name });
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['auth'], summary: 'Revoke an API key', params: Type.Object({ id: Type.String({ format: 'uuid' }) }) },
    },
    async (request, reply) => {
      if (!(await apiKeys.revoke(request.params.id))) {
        throw new TesseraError('NOT_FOUND', `No active API key has id ${request.params.id}`);
      }
      return reply.code(204).send();
    },
  );
};
