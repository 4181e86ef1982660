/**
 * Inbound sources as the rest of Tessera uses them: signing secrets opened and ready to verify,
 * mappings compiled, both validated when written. Reads are cached for a few seconds (the
 * webhook route reads a source on every message); this process's own writes drop the cache at
 * once, other processes see them within SOURCE_CACHE_MS.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Webhook } from 'standardwebhooks';
import type { Catalog } from '../commands/catalog.js';
import { TesseraError } from '../errors.js';
import { createInboundSourceStore, type InboundSourceRecord, type StoredSecret } from '../persistence/inbound-source-store.js';
import type { Database } from '../persistence/schema.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { JsonataSandbox } from './jsonata-sandbox.js';
import { compileMapping, MappingError, type CompiledMapping, type Mapping } from './mapping.js';
import { newSigningSecret, verifierFor } from './signature.js';

export const SOURCE_CACHE_MS = 5_000;
/** Two while rotating: the new one and the one senders still use. */
export const MAX_ACTIVE_SECRETS = 2;

export interface ResolvedSource {
  key: string;
  enabled: boolean;
  /** Filter with `activeVerifiers`: a secret may expire while the source sits in the cache. */
  verifiers: { id: string; verifier: Webhook; expiresAt: number | null }[];
  mapping: CompiledMapping;
}

export interface NewSecret {
  id: string;
  /** Shown once, at creation. */
  secret: string;
  createdAt: string;
}

export interface InboundSourcesDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  /** Kept for callers; mappings no longer name templates (intake rules do). */
  catalog?: Catalog;
  /** Where mappings evaluate (default: the process's shared sandbox). */
  sandbox?: JsonataSandbox;
  now?: () => Date;
}

export function isActiveSecret(secret: StoredSecret, now: Date): boolean {
  return secret.expires_at === null || new Date(secret.expires_at).getTime() > now.getTime();
}

export function activeVerifiers(source: ResolvedSource, now: Date) {
  return source.verifiers.filter((v) => v.expiresAt === null || v.expiresAt > now.getTime());
}

export function createInboundSources(deps: InboundSourcesDeps) {
  const store = createInboundSourceStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const cache = new Map<string, { at: number; source: ResolvedSource | undefined }>();

  /** Compiles a mapping or refuses it with every problem, pointed at `/mapping/...`. */
  function compile(mapping: Mapping): CompiledMapping {
    const result = compileMapping(mapping, deps.sandbox ? { sandbox: deps.sandbox } : {});
    if (result.ok) return result.compiled;
    const errors = result.problems.map((p) => ({ pointer: `/mapping${p.pointer}`, in: 'body', detail: p.detail }));
    throw new TesseraError('INVALID_MAPPING', `body ${errors[0]!.pointer} ${errors[0]!.detail}`, { errors });
  }

  function seal(): { stored: StoredSecret; shown: NewSecret } {
    const secret = newSigningSecret();
    const createdAt = now().toISOString();
    const id = `sec_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    return { stored: { id, sealed: deps.secrets.seal(secret), created_at: createdAt, expires_at: null }, shown: { id, secret, createdAt } };
  }

  /**
   * Stored mappings were valid when written. One that no longer compiles (it still uses the
   * removed `open_case`) fails each message (stored `failed`, naming the field, retryable once
   * the mapping is fixed) rather than refusing the sender: nothing is lost meanwhile.
   */
  function compileStored(record: InboundSourceRecord): CompiledMapping {
    const result = compileMapping(record.mapping, deps.sandbox ? { sandbox: deps.sandbox } : {});
    if (result.ok) return result.compiled;
    const first = result.problems[0]!;
    const refuse = async (): Promise<never> => {
      throw new MappingError(first.pointer, `${first.detail} (fix the mapping with PATCH /v1/inbound-sources/${record.key}, then retry the message)`);
    };
    return { mapping: record.mapping, match: refuse, plan: refuse };
  }

  function resolve(record: InboundSourceRecord): ResolvedSource {
    const at = now();
    return {
      key: record.key,
      enabled: record.enabled,
      verifiers: record.secrets
        .filter((s) => isActiveSecret(s, at))
        .map((s) => ({ id: s.id, verifier: verifierFor(deps.secrets.open(s.sealed)), expiresAt: s.expires_at === null ? null : Date.parse(s.expires_at) })),
      mapping: compileStored(record),
    };
  }

  const notFound = (key: string) => new TesseraError('SOURCE_NOT_FOUND', `No inbound source has key "${key}"; GET /v1/inbound-sources lists them`);

  /**
   * The writes, on `db` (a transaction: a route stores its idempotent answer with the change).
   * Each drops this process's cache of the source; call `forget` again after commit.
   */
  function writer(db: Kysely<Database>) {
    const store = createInboundSourceStore(db);
    return {
      async create(input: { key: string; description?: string; mapping: Mapping; enabled?: boolean }) {
        compile(input.mapping);
        const first = seal();
        const created = await store.create({
          key: input.key,
          description: input.description ?? null,
          secrets: [first.stored],
          mapping: input.mapping,
          enabled: input.enabled ?? true,
        });
        if (!created) throw new TesseraError('SOURCE_EXISTS', `An inbound source "${input.key}" exists; pick another key or PATCH it`);
        cache.delete(input.key);
        return { record: (await store.find(input.key))!, secret: first.shown };
      },

      async update(key: string, changes: { description?: string | null; mapping?: Mapping; enabled?: boolean }) {
        if (changes.mapping) compile(changes.mapping);
        const record = await store.update(key, changes);
        cache.delete(key);
        if (!record) throw notFound(key);
        return record;
      },

      /**
       * Adds a secret. The ones in use stay valid — until `previousExpireInSeconds` from now when
       * given, else until removed — so senders can switch without dropping messages.
       */
      async rotate(key: string, options: { previousExpireInSeconds?: number }) {
        const fresh = seal();
        const at = now();
        const record = await store.changeSecrets(key, (secrets) => {
          const active = secrets.filter((s) => isActiveSecret(s, at));
          if (active.length >= MAX_ACTIVE_SECRETS) {
            throw new TesseraError('SECRET_LIMIT', `Source "${key}" has ${active.length} active secrets; DELETE the one senders no longer use, then rotate`);
          }
          const expiresAt = options.previousExpireInSeconds === undefined ? null : new Date(at.getTime() + options.previousExpireInSeconds * 1000).toISOString();
          return [...active.map((s) => (expiresAt && (s.expires_at === null || s.expires_at > expiresAt) ? { ...s, expires_at: expiresAt } : s)), fresh.stored];
        });
        cache.delete(key);
        if (!record) throw notFound(key);
        return { record, secret: fresh.shown };
      },

      async removeSecret(key: string, secretId: string) {
        const at = now();
        const record = await store.changeSecrets(key, (secrets) => {
          if (!secrets.some((s) => s.id === secretId)) {
            throw new TesseraError('NOT_FOUND', `Source "${key}" has no secret ${secretId}`);
          }
          const rest = secrets.filter((s) => s.id !== secretId);
          if (!rest.some((s) => isActiveSecret(s, at))) {
            throw new TesseraError('SECRET_LIMIT', `Secret ${secretId} is the last active one; rotate first so senders have a secret to sign with`);
          }
          return rest;
        });
        cache.delete(key);
        if (!record) throw notFound(key);
        return record;
      },

      async remove(key: string) {
        const removed = await store.remove(key);
        cache.delete(key);
        if (!removed) throw notFound(key);
      },
    };
  }

  return {
    compile,

    /** The source ready to verify and map, or undefined. Cached (see SOURCE_CACHE_MS). */
    async get(key: string): Promise<ResolvedSource | undefined> {
      const cached = cache.get(key);
      const t = Date.now();
      if (cached && t - cached.at < SOURCE_CACHE_MS) return cached.source;
      const record = await store.find(key);
      const source = record ? resolve(record) : undefined;
      cache.set(key, { at: t, source });
      return source;
    },

    list: () => store.list(),
    find: (key: string) => store.find(key),

    writer,

    /** Drops the cached source (after a write commits). */
    forget(key: string) {
      cache.delete(key);
    },

    create: (input: Parameters<ReturnType<typeof writer>['create']>[0]) => writer(deps.db).create(input),
    update: (...args: Parameters<ReturnType<typeof writer>['update']>) => writer(deps.db).update(...args),
    rotate: (...args: Parameters<ReturnType<typeof writer>['rotate']>) => writer(deps.db).rotate(...args),
    removeSecret: (...args: Parameters<ReturnType<typeof writer>['removeSecret']>) => writer(deps.db).removeSecret(...args),
    remove: (key: string) => writer(deps.db).remove(key),
  };
}

export type InboundSources = ReturnType<typeof createInboundSources>;
