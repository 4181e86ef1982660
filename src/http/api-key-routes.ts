import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ROLES } from '../cases/types.js';
import { TesseraError } from '../errors.js';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { createApiKeyStore, type ApiKeyStore } from '../persistence/api-key-store.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';

const RoleSchema = Type.Enum(ROLES);
const Teams = Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s]+$' }), {
  maxItems: 50,
  uniqueItems: true,
  description: 'queues the agent works: they see cases and tasks queued to these',
});

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ apiKeys: ApiKeyStore; writes: IdempotentWriter }> = async (app, { writes }) => {
  app.get(
    '/v1/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who the presented API key belongs to',
        response: { 200: Type.Object({ user_id: Type.String(), role: RoleSchema, key_id: Type.String(), teams: Teams }) },
      },
    },
    async (request) => ({
      user_id: request.principal.userId,
      role: request.principal.role,
      key_id: request.principal.keyId,
      teams: [...request.principal.teams],
    }),
  );

  app.post(
    '/v1/api-keys',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['auth'],
        summary: "Create an API key (the secret is shown once). A person role's key belongs to the user user_id (created with the key if unknown; never above the user's role); an integrator key to the integration user_id",
        body: Type.Object(
          {
            role: RoleSchema,
            user_id: Type.String({ minLength: 1, maxLength: 200 }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            teams: Type.Optional(Teams),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ id: Type.String(), key: Type.String(), role: RoleSchema, user_id: Type.String(), name: Type.String(), teams: Teams }),
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const response = await writes.run(idempotencyOf(request), {
        secret: true,
        effect: async (trx) => {
          const created = await createApiKeyStore(trx).create({
            role: b.role,
            userId: b.user_id,
            name: b.name,
            ...(b.teams ? { teams: b.teams } : {}),
            actor: { id: request.principal.userId, role: request.principal.role },
          });
          const body = { id: created.keyId, key: created.key, role: created.role, user_id: created.userId, name: created.name, teams: [...created.teams] };
          return { answer: { statusCode: 201, body } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['auth'], summary: 'Revoke an API key', params: Type.Object({ id: Type.String({ format: 'uuid' }) }) },
    },
    async (request, reply) => {
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          if (!(await createApiKeyStore(trx).revoke(request.params.id))) {
            throw new TesseraError('NOT_FOUND', `No active API key has id ${request.params.id}`);
          }
          return { answer: { statusCode: 204 } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );
};
