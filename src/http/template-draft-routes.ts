/**
 * The process owner's side of the learning loop: capture a resolved case's plan as a draft of
 * the next template version, review its diff, edit it, publish it; list versions; export a
 * published version as the YAML the repo ships; discard a draft. Supervisors and admins (the process owners).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { IdempotentWriter } from '../commands/run-idempotent.js';
import { problemView, type TemplateDrafts } from '../commands/template-drafts.js';
import { TesseraError } from '../errors.js';
import type { FragmentDefinition } from '../fragments/types.js';
import type { Database } from '../persistence/schema.js';
import { findDraft, listDrafts, storedDefinition, templateVersions, type DraftRecord } from '../persistence/template-draft-store.js';
import { fragmentToYaml, templateToYaml } from '../templates/export-yaml.js';
import type { CaseTemplate } from '../templates/types.js';
import { etag, idempotencyOf, sendWriteResponse } from './command-request.js';
import { EmptyBody } from './schemas.js';

export interface TemplateDraftRoutesOptions {
  db: Kysely<Database>;
  drafts: TemplateDrafts;
  writes: IdempotentWriter;
}

const OWNERS = ['supervisor', 'admin'] as const;
const problem = { description: 'RFC 9457 problem+json', content: { 'application/problem+json': { schema: Type.Object({}, { additionalProperties: true }) } } };

const KeyParams = Type.Object({ key: Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 64 }) });
const KeyVersionParams = Type.Object({ key: Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 64 }), version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
const DraftParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

const CreateDraftBody = Type.Object(
  {
    from_case: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'A resolved or closed case of this template whose plan becomes the draft. Absent: a copy of the current version to edit.' })),
  },
  { additionalProperties: false },
);

const PatchDraftBody = Type.Object(
  {
    template: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'JSON merge patch (RFC 7396) over the draft template; `key` and `version` are fixed.' })),
    fragments: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 50, description: 'Replaces the new library fragments the draft publishes ({ key, version, title, machine }).' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ProblemItem = Type.Object({
  code: Type.String(),
  file: Type.String(),
  pointer: Type.String(),
  line: Type.Optional(Type.Integer()),
  column: Type.Optional(Type.Integer()),
  detail: Type.String(),
});

const DraftView = Type.Object({
  id: Type.String(),
  template_key: Type.String(),
  base_version: Type.Integer({ description: 'The current version when the draft was made.' }),
  revision: Type.Integer({ description: 'The draft ETag is "v<revision>".' }),
  status: Type.String({ enum: ['draft', 'published', 'discarded'] }),
  from_case: Type.Union([Type.String(), Type.Null()]),
  template: Type.Unknown({ description: 'The proposed template version (the case-template file format).' }),
  fragments: Type.Array(Type.Unknown(), { description: 'New library fragments the draft publishes.' }),
  capture: Type.Union([Type.Unknown(), Type.Null()], { description: 'What capture did with each fragment of the case.' }),
  problems: Type.Array(ProblemItem, { description: 'What the template checks refuse (empty: publishable).' }),
  created_by: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
  published_version: Type.Union([Type.Integer(), Type.Null()]),
  published_by: Type.Union([Type.String(), Type.Null()]),
  published_at: Type.Union([Type.String(), Type.Null()]),
});

const ChangeView = Type.Object({ op: Type.String({ enum: ['add', 'remove', 'replace'] }), path: Type.String(), before: Type.Optional(Type.Unknown()), after: Type.Optional(Type.Unknown()) });
const DiffView = Type.Object({ draft: Type.String(), against: Type.String(), changes: Type.Array(ChangeView), new_fragments: Type.Array(Type.String()) });
const PublishedView = Type.Object({ draft: Type.String(), template: Type.String({ description: 'key@version now published.' }), fragments: Type.Array(Type.String()), export_url: Type.String() });
const VersionView = Type.Object({ version: Type.Integer(), source: Type.String({ description: '`file` (case-templates/) or `published` (a published draft).' }), hash: Type.String(), created_at: Type.String(), export_url: Type.String() });

/** `If-Match: "v3"` -> 3 (a draft's ETag). */
function revisionOf(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = typeof header === 'string' ? /^\s*(?:W\/)?"?v?(\d{1,9})"?\s*$/.exec(header) : null;
  if (!match) {
    throw new TesseraError('VALIDATION_FAILED', 'If-Match must be the ETag of the draft, e.g. "v3"', { errors: [{ pointer: '/if-match', in: 'header', detail: 'must look like "v3"' }] });
  }
  return Number(match[1]);
}

export const templateDraftRoutes: FastifyPluginAsyncTypebox<TemplateDraftRoutesOptions> = async (app, { db, drafts, writes }) => {
  const view = (d: DraftRecord) => ({
    id: d.id,
    template_key: d.templateKey,
    base_version: d.baseVersion,
    revision: d.revision,
    status: d.status,
    from_case: d.fromCaseId,
    template: d.body.template,
    fragments: d.body.fragments,
    capture: d.body.capture ?? null,
    problems: d.status === 'draft' ? drafts.problemsOf(d.body).map(problemView) : [],
    created_by: d.createdBy,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    published_version: d.publishedVersion,
    published_by: d.publishedBy,
    published_at: d.publishedAt,
  });

  app.post(
    '/v1/templates/:key/drafts',
    {
      config: { roles: OWNERS },
      schema: {
        tags: ['learning'],
        summary: 'Draft the next version of a template: from a resolved case\'s plan (from_case), or a copy of the current version',
        params: KeyParams,
        body: CreateDraftBody,
        response: { 201: DraftView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          const draft = await drafts.create(trx, { templateKey: request.params.key, ...(request.body.from_case !== undefined ? { fromCaseId: request.body.from_case } : {}), actorId: request.principal.userId });
          return { answer: { statusCode: 201, headers: { location: `/v1/template-drafts/${draft.id}`, etag: etag(draft.revision) }, body: view(draft) } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/templates/:key/drafts',
    { config: { roles: OWNERS }, schema: { tags: ['learning'], summary: 'Drafts of a template, newest first (at most 100)', params: KeyParams, response: { 200: Type.Object({ items: Type.Array(DraftView) }) } } },
    async (request) => ({ items: (await listDrafts(db, request.params.key, 100)).map(view) }),
  );

  app.get(
    '/v1/template-drafts/:id',
    { config: { roles: OWNERS }, schema: { tags: ['learning'], summary: 'A template draft with the problems the template checks find', params: DraftParams, response: { 200: DraftView, '4xx': problem } } },
    async (request, reply) => {
      const draft = await findDraft(db, request.params.id);
      if (!draft) throw new TesseraError('DRAFT_NOT_FOUND', `No template draft has id ${request.params.id}`);
      reply.header('etag', etag(draft.revision));
      return view(draft);
    },
  );

  app.patch(
    '/v1/template-drafts/:id',
    {
      config: { roles: OWNERS },
      schema: {
        tags: ['learning'],
        summary: 'Edit a draft (If-Match required): a merge patch over the template, or new fragments',
        params: DraftParams,
        body: PatchDraftBody,
        response: { 200: DraftView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const expectedRevision = revisionOf(request.headers['if-match']);
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          const draft = await drafts.patch(trx, {
            id: request.params.id,
            expectedRevision,
            ...(request.body.template !== undefined ? { template: request.body.template as Record<string, unknown> } : {}),
            ...(request.body.fragments !== undefined ? { fragments: request.body.fragments } : {}),
          });
          return { answer: { statusCode: 200, headers: { etag: etag(draft.revision) }, body: view(draft) } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.delete(
    '/v1/template-drafts/:id',
    {
      config: { roles: OWNERS },
      schema: {
        tags: ['learning'],
        summary: 'Discard a draft (If-Match optional): it can no longer be edited or published; 409 DRAFT_NOT_EDITABLE once published or discarded',
        params: DraftParams,
        response: { 200: DraftView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const expectedRevision = revisionOf(request.headers['if-match']);
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          const draft = await drafts.discard(trx, { id: request.params.id, expectedRevision });
          return { answer: { statusCode: 200, headers: { etag: etag(draft.revision) }, body: view(draft) } };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/template-drafts/:id/diff',
    { config: { roles: OWNERS }, schema: { tags: ['learning'], summary: 'What the draft changes against the current version (JSON pointers, before and after)', params: DraftParams, response: { 200: DiffView, '4xx': problem } } },
    async (request) => {
      const diff = await drafts.diff(db, request.params.id);
      return { draft: request.params.id, against: diff.against, changes: diff.changes, new_fragments: diff.newFragments };
    },
  );

  app.post(
    '/v1/template-drafts/:id/publish',
    {
      config: { roles: OWNERS },
      schema: {
        tags: ['learning'],
        summary: 'Publish the draft as an immutable template version; new cases open on it, running cases stay on theirs',
        params: DraftParams,
        body: EmptyBody,
        response: { 200: PublishedView, '4xx': problem },
      },
    },
    async (request, reply) => {
      const expectedRevision = revisionOf(request.headers['if-match']);
      const response = await writes.run(idempotencyOf(request), {
        effect: async (trx) => {
          const published = await drafts.publish(trx, { id: request.params.id, expectedRevision, actorId: request.principal.userId });
          const ref = `${published.template.key}@${published.template.version}`;
          return {
            answer: {
              statusCode: 200,
              body: { draft: request.params.id, template: ref, fragments: published.fragments, export_url: `/v1/templates/${published.template.key}/versions/${published.template.version}/export` },
            },
            afterCommit: published.afterCommit,
          };
        },
      });
      return sendWriteResponse(reply, response);
    },
  );

  app.get(
    '/v1/templates/:key/versions',
    { config: { roles: ['agent', 'supervisor', 'admin', 'integrator'] }, schema: { tags: ['learning'], summary: 'Every stored version of a template, oldest first', params: KeyParams, response: { 200: Type.Object({ items: Type.Array(VersionView) }), '4xx': problem } } },
    async (request) => {
      const versions = await templateVersions(db, request.params.key);
      if (versions.length === 0) throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${request.params.key}; GET /v1/templates lists them`);
      return {
        items: versions.map((v) => ({ version: v.version, source: v.source, hash: v.hash, created_at: v.createdAt, export_url: `/v1/templates/${request.params.key}/versions/${v.version}/export` })),
      };
    },
  );

  const yamlReply = { 200: { description: 'The YAML file the loader reads (case-templates/ format)', content: { 'application/yaml': { schema: Type.String() } } }, '4xx': problem };

  app.get(
    '/v1/templates/:key/versions/:version/export',
    { config: { roles: ['supervisor', 'admin', 'integrator'] }, schema: { tags: ['learning'], summary: 'A stored template version as case-templates/<key>.yaml', params: KeyVersionParams, response: yamlReply } },
    async (request, reply) => {
      const { key, version } = request.params;
      const body = await storedDefinition(db, 'template', key, version);
      if (!body) throw new TesseraError('TEMPLATE_NOT_FOUND', `No case template ${key}@${version}; GET /v1/templates/${key}/versions lists them`);
      return reply
        .type('application/yaml; charset=utf-8')
        .header('content-disposition', `attachment; filename="${key}@${version}.yaml"`)
        .send(templateToYaml(body as CaseTemplate));
    },
  );

  app.get(
    '/v1/fragments/:key/versions/:version/export',
    { config: { roles: ['supervisor', 'admin', 'integrator'] }, schema: { tags: ['learning'], summary: 'A stored library fragment version as case-templates/fragments/<key>@<version>.yaml', params: KeyVersionParams, response: yamlReply } },
    async (request, reply) => {
      const { key, version } = request.params;
      const body = await storedDefinition(db, 'fragment', key, version);
      if (!body) throw new TesseraError('FRAGMENT_NOT_FOUND', `No fragment ${key}@${version} in the library; GET /v1/fragments lists them`);
      return reply
        .type('application/yaml; charset=utf-8')
        .header('content-disposition', `attachment; filename="${key}@${version}.yaml"`)
        .send(fragmentToYaml(body as FragmentDefinition));
    },
  );
};
