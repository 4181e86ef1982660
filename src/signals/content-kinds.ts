/**
 * The typed content kinds — one JSON Schema (draft 2020-12, TypeBox) per kind — and the one check
 * every path that attaches content uses: `POST /v1/cases/:id/content`, an inbound mapping's
 * `attach`, and the engine itself (`content.add` refuses bad data whatever sent it).
 *
 * Pure: no I/O, no clock. Problems name the field as a JSON pointer into the request body
 * (`/data/reach`) and say what to send instead. Nothing is coerced, defaulted or dropped:
 * unknown fields are refused — free-form sender data belongs in `extra`.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import Type, { type Static, type TSchema } from 'typebox';
import { CONTENT_KINDS, type ContentKind } from '../cases/types.js';

// ajv-formats is CommonJS: under NodeNext the default import is `module.exports`, the plugin.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export { CONTENT_KINDS, type ContentKind };

export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

const Count = (description: string) => Type.Integer({ minimum: 0, maximum: 1e12, description });
const Str = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });
const Time = (description: string) => Type.String({ format: 'date-time', description });
const Extra = Type.Record(Type.String(), Type.Unknown(), {
  description: "anything else the sender wants kept with the item (an object); Tessera does not read it",
});

export const ProvidedSentimentSchema = Type.Object(
  {
    score: Type.Number({ minimum: -1, maximum: 1, description: 'from -1 (negative) to 1 (positive)' }),
    label: Type.Optional(Type.Union(SENTIMENT_LABELS.map((l) => Type.Literal(l)), { description: 'negative, neutral or positive' })),
    source: Type.Optional(Str(100, 'who computed it, e.g. "brandwatch"')),
  },
  { additionalProperties: false, description: 'the sentiment the sender computed: { score -1..1, label?, source? }' },
);

export const SocialPostSchema = Type.Object(
  {
    channel: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_.-]*$', description: 'lower-case channel name, e.g. "x", "facebook", "instagram"' }),
    post_id: Type.Optional(Str(200, "the channel's id of the post; with `channel` it identifies the post, so sending it again updates it")),
    url: Type.Optional(Type.String({ format: 'uri', maxLength: 2000, pattern: '^https?://', description: 'link to the post (http or https)' })),
    author_handle: Type.Optional(Str(200, 'the author on the channel, e.g. "@jane"')),
    text: Type.Optional(Type.String({ maxLength: 10000, description: 'the text of the post, at most 10,000 characters' })),
    posted_at: Type.Optional(Time('when the post was published (RFC 3339)')),
    followers: Type.Optional(Count("the author's followers, an integer >= 0")),
    engagements: Type.Optional(Count('likes + shares + replies so far, an integer >= 0')),
    reach: Type.Optional(Count('people who saw the post so far, an integer >= 0')),
    sentiment: Type.Optional(ProvidedSentimentSchema),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false },
);

export const CrmProfileSchema = Type.Object(
  {
    lifetime_value: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'customer lifetime value in the account currency, >= 0' })),
    referral_value: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'customer referral value in the account currency, >= 0' })),
    churn_risk: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'probability of churn, from 0 to 1' })),
    segment: Type.Optional(Str(100, 'CRM segment, e.g. "vip"')),
    tier: Type.Optional(Str(100, 'loyalty tier, e.g. "gold"')),
    as_of: Type.Optional(Time('when the CRM computed these figures (RFC 3339)')),
    source: Type.Optional(Str(100, 'the system they come from, e.g. "salesforce"')),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const NoteSchema = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 20000, description: 'the note, 1 to 20,000 characters' }),
    visibility: Type.Optional(Type.Union([Type.Literal('internal'), Type.Literal('public')], { description: 'internal (default) or public' })),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false },
);

export const AttachmentSchema = Type.Object(
  {
    name: Str(300, 'file name, e.g. "receipt.pdf"'),
    media_type: Type.String({ pattern: '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$', maxLength: 200, description: 'IANA media type, e.g. "application/pdf"' }),
    size: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e13, description: 'size in bytes, an integer >= 0' })),
    url: Type.String({ format: 'uri', maxLength: 2000, pattern: '^https://', description: 'https link to the file (Tessera stores no files)' }),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the file, 64 lower-case hex digits' })),
    extra: Type.Optional(Extra),
  },
  { additionalProperties: false },
);

export const CONTENT_SCHEMAS: Record<ContentKind, TSchema> = {
  social_post: SocialPostSchema,
  crm_profile: CrmProfileSchema,
  note: NoteSchema,
  attachment: AttachmentSchema,
};

export type SocialPostData = Static<typeof SocialPostSchema>;
export type CrmProfileData = Static<typeof CrmProfileSchema>;
export type ProvidedSentiment = Static<typeof ProvidedSentimentSchema>;

export interface ContentProblem {
  /** JSON pointer into the request body: `/kind` or `/data/<field>`. */
  pointer: string;
  detail: string;
}

export type ContentCheck = { ok: true; kind: ContentKind; data: Record<string, unknown> } | { ok: false; problems: ContentProblem[] };

export interface ContentChecker {
  check(kind: unknown, data: unknown): ContentCheck;
}

/**
 * Compiles the kind schemas once. Each call of `check` is pure; the returned data is the input
 * object itself (validated, not copied or changed).
 */
export function createContentChecker(): ContentChecker {
  const ajv = addFormats(new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false, removeAdditional: false }));
  const validators = new Map<ContentKind, ValidateFunction>(
    CONTENT_KINDS.map((kind) => [kind, ajv.compile({ ...CONTENT_SCHEMAS[kind] })]),
  );
  return {
    check(kind, data) {
      if (typeof kind !== 'string' || !(CONTENT_KINDS as readonly string[]).includes(kind)) {
        return { ok: false, problems: [{ pointer: '/kind', detail: `must be one of ${CONTENT_KINDS.join(', ')}` }] };
      }
      const k = kind as ContentKind;
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        return { ok: false, problems: [{ pointer: '/data', detail: `must be an object with the fields of a ${k}` }] };
      }
      const validate = validators.get(k)!;
      const problems = validate(data) ? [] : explain(k, validate.errors ?? []);
      if (k === 'social_post' && problems.length === 0) {
        const post = data as SocialPostData;
        if (post.post_id === undefined && post.url === undefined) {
          problems.push({ pointer: '/data/post_id', detail: 'is required (or give `url`): the post id or its URL identifies the post, so sending it again updates it' });
        }
      }
      return problems.length > 0 ? { ok: false, problems } : { ok: true, kind: k, data: data as Record<string, unknown> };
    },
  };
}

/** Ajv errors as problems that say the fix, using each field's description. */
function explain(kind: ContentKind, errors: ErrorObject[]): ContentProblem[] {
  const seen = new Set<string>();
  const problems: ContentProblem[] = [];
  const schema = CONTENT_SCHEMAS[kind] as { properties?: Record<string, TSchema> };
  for (const e of errors) {
    let pointer = `/data${e.instancePath}`;
    let detail: string;
    if (e.keyword === 'required') {
      const field = String(e.params['missingProperty']);
      pointer = `${pointer}/${field}`;
      detail = `is required: ${describe(schema, `${e.instancePath}/${field}`) ?? 'see the schema of ' + kind}`;
    } else if (e.keyword === 'additionalProperties') {
      const field = String(e.params['additionalProperty']);
      pointer = `${pointer}/${field}`;
      const holder = (e.instancePath === "" ? schema : schema.properties?.["sentiment"]) as { properties?: Record<string, unknown> } | undefined;
      const known = Object.keys(holder?.properties ?? {});
      detail = `is not a field of ${kind}; fix the spelling or put it under \`extra\` (fields: ${known.join(', ')})`;
    } else if (e.keyword === 'minProperties') {
      detail = `must have at least one field of ${kind} (${Object.keys(schema.properties ?? {}).join(', ')})`;
    } else {
      const what = describe(schema, e.instancePath);
      detail = `${e.message ?? 'is invalid'}${what ? `: ${what}` : ''}`;
    }
    const key = `${pointer} ${detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ pointer, detail });
  }
  return problems;
}

function describe(schema: { properties?: Record<string, TSchema> }, instancePath: string): string | undefined {
  let at: unknown = schema;
  for (const step of instancePath.split('/').filter(Boolean)) {
    at = (at as { properties?: Record<string, unknown> } | undefined)?.properties?.[step];
  }
  return (at as { description?: string } | undefined)?.description;
}

/**
 * The identity of a post on a case: its channel and its id (or, without one, its URL). Posting
 * the same identity again updates the post instead of adding a second one.
 */
export function postIdentity(post: Pick<SocialPostData, 'channel' | 'post_id' | 'url'>): string {
  return post.post_id !== undefined ? `${post.channel}|id:${post.post_id}` : `${post.channel}|url:${post.url ?? ''}`;
}
