/**
 * /v1/inbound-sources: who may post signed webhooks, with which secrets, mapped how (admin;
 * integrators may read). A secret is shown once, when created or rotated; stored sealed.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { TesseraError } from '../errors.js';
import { idempotencyOf, sendWriteResponse } from './command-request.js';
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

export const inboundSourceRoutes: FastifyPluginAsyncTypebox<{ sources: InboundSources; writes: IdempotentWriter }> = async (app, { sources, writes }) => {
  /** Runs a write of source `key` idempotently; the process cache is dropped again after commit. */
  const write = (request: Parameters<typeof idempotencyOf>[0], key: string, secret: boolean, effect: (w: ReturnType<InboundSources['writer']>) => Promise<{ statusCode: number; body?: unknown; headers?: Record<string, string> }>) =>
    writes.run(idempotencyOf(request), { secret, effect: async (trx) => ({ answer: await effect(sources.writer(trx)), afterCommit: () => sources.forget(key) }) });

  app.post(
    '/v1/inbound-sources',
    {
      config: { roles: ADMIN },
      schema: { tags: ['inbound'], summary: 'Create an inbound source (its first signing secret is shown once)', body: CreateSourceBody, response: { 201: SourceWithSecretView } },
    },
    async (request, reply) => {
      const b = request.body;
      const response = await write(request, b.key, true, async (w) => {
        const created = await w.create({
          key: b.key,
          mapping: b.mapping as Mapping,
          ...(b.description !== undefined ? { description: b.description } : {}),
          ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
        });
        return { statusCode: 201, headers: { location: `/v1/inbound-sources/${b.key}` }, body: { source: sourceView(created.record), secret: newSecretView(created.secret) } };
      });
      return sendWriteResponse(reply, response);
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
    async (request, reply) => {
      const b = request.body;
      const response = await write(request, request.params.key, false, async (w) => {
        const record = await w.update(request.params.key, {
          ...(b.description !== undefined ? { description: b.description } : {}),
          ...(b.mapping !== undefined ? { mapping: b.mapping as Mapping } : {}),
          ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
        });
        return { statusCode: 200, body: sourceView(record) };
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/inbound-sources/:key',
    { config: { roles: ADMIN }, schema: { tags: ['inbound'], summary: 'Delete a source (its inbox rows are kept)', params: SourceParams } },
    async (request, reply) => {
      const response = await write(request, request.params.key, false, async (w) => {
        await w.remove(request.params.key);
        return { statusCode: 204 };
      });
      return sendWriteResponse(reply, response);
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
      const response = await write(request, request.params.key, true, async (w) => {
        const rotated = await w.rotate(request.params.key, expire !== undefined ? { previousExpireInSeconds: expire } : {});
        return { statusCode: 201, body: { source: sourceView(rotated.record), secret: newSecretView(rotated.secret) } };
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/inbound-sources/:key/secrets/:secret_id',
    { config: { roles: ADMIN }, schema: { tags: ['inbound'], summary: 'Remove a signing secret (not the last active one)', params: SecretParams, response: { 200: SourceView } } },
    async (request, reply) => {
      const response = await write(request, request.params.key, false, async (w) => ({
        statusCode: 200,
        body: sourceView(await w.removeSecret(request.params.key, request.params.secret_id)),
      }));
      return sendWriteResponse(reply, response);
    },
  );
};

function notFound(key: string) {
  return new TesseraError('SOURCE_NOT_FOUND', `No inbound source has key "${key}"; GET /v1/inbound-sources lists them`);
}
