/**
 * /v1/inbound-sources: who may post signed webhooks, with which secrets, mapped how (admin;
 * integrators may read). A secret is shown once, when created or rotated; stored sealed.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TesseraError } from '../errors.js';
import { isActiveSecret, type InboundSources } from '../inbound/inbound-sources.js';
import type { Mapping } from '../inbound/mapping.js';
import type { InboundSourceRecord } from '../persistence/inbound-source-store.js';
import {
  CreateSourceBody,
  RotateSecretBody,
  SecretParams,
  SourceParams,
  SourceView,
  SourceWithSecretView,
  UpdateSourceBody,
} from './inbound-schemas.js';

const ADMIN = ['admin'] as const;
const READERS = ['admin', 'integrator'] as const;

export function sourceView(record: InboundSourceRecord, now = new Date()) {
  return {
    key: record.key,
    description: record.description,
    enabled: record.enabled,
    url: `/v1/inbound/${record.key}`,
    secrets: record.secrets.map((s) => ({ id: s.id, created_at: s.created_at, expires_at: s.expires_at, active: isActiveSecret(s, now) })),
    mapping: record.mapping,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
  };
}

const newSecretView = (s: { id: string; secret: string; createdAt: string }) => ({ id: s.id, secret: s.secret, created_at: s.createdAt });

export const inboundSourceRoutes: FastifyPluginAsyncTypebox<{ sources: InboundSources }> = async (app, { sources }) => {
  app.post(
    '/v1/inbound-sources',
    {
      config: { roles: ADMIN },
      schema: { tags: ['inbound'], summary: 'Create an inbound source (its first signing secret is shown once)', body: CreateSourceBody, response: { 201: SourceWithSecretView } },
    },
    async (request, reply) => {
      const b = request.body;
      const created = await sources.create({
        key: b.key,
        mapping: b.mapping as Mapping,
        ...(b.description !== undefined ? { description: b.description } : {}),
        ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
      });
      reply.header('location', `/v1/inbound-sources/${b.key}`);
      return reply.code(201).send({ source: sourceView(created.record), secret: newSecretView(created.secret) });
    },
  );

  app.get(
    '/v1/inbound-sources',
    { config: { roles: READERS }, schema: { tags: ['inbound'], summary: 'Inbound sources (secrets never shown)', response: { 200: Type.Object({ items: Type.Array(SourceView) }) } } },
    async () => ({ items: (await sources.list()).map((r) => sourceView(r)) }),
  );

  app.get(
    '/v1/inbound-sources/:key',
    { config: { roles: READERS }, schema: { tags: ['inbound'], summary: 'An inbound source', params: SourceParams, response: { 200: SourceView } } },
    async (request) => {
      const record = await sources.find(request.params.key);
      if (!record) throw notFound(request.params.key);
      return sourceView(record);
    },
  );

  app.patch(
    '/v1/inbound-sources/:key',
    {
      config: { roles: ADMIN },
      schema: { tags: ['inbound'], summary: 'Change the description, mapping or enabled flag', params: SourceParams, body: UpdateSourceBody, response: { 200: SourceView } },
    },
    async (request) => {
      const b = request.body;
      const record = await sources.update(request.params.key, {
        ...(b.description !== undefined ? { description: b.description } : {}),
        ...(b.mapping !== undefined ? { mapping: b.mapping as Mapping } : {}),
        ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
      });
      return sourceView(record);
    },
  );

  app.delete(
    '/v1/inbound-sources/:key',
    { config: { roles: ADMIN }, schema: { tags: ['inbound'], summary: 'Delete a source (its inbox rows are kept)', params: SourceParams } },
    async (request, reply) => {
      await sources.remove(request.params.key);
      return reply.code(204).send();
    },
  );

  app.post(
    '/v1/inbound-sources/:key/secrets',
    {
      config: { roles: ADMIN },
      schema: {
        tags: ['inbound'],
        summary: 'Rotate: add a signing secret (shown once); the current one stays valid until removed or previous_expire_in_seconds',
        params: SourceParams,
        body: Type.Optional(RotateSecretBody),
        response: { 201: SourceWithSecretView },
      },
    },
    async (request, reply) => {
      const expire = request.body?.previous_expire_in_seconds;
      const rotated = await sources.rotate(request.params.key, expire !== undefined ? { previousExpireInSeconds: expire } : {});
      return reply.code(201).send({ source: sourceView(rotated.record), secret: newSecretView(rotated.secret) });
    },
  );

  app.delete(
    '/v1/inbound-sources/:key/secrets/:secret_id',
    { config: { roles: ADMIN }, schema: { tags: ['inbound'], summary: 'Remove a signing secret (not the last active one)', params: SecretParams, response: { 200: SourceView } } },
    async (request) => sourceView(await sources.removeSecret(request.params.key, request.params.secret_id)),
  );
};

function notFound(key: string) {
  return new TesseraError('SOURCE_NOT_FOUND', `No inbound source has key "${key}"; GET /v1/inbound-sources lists them`);
}
