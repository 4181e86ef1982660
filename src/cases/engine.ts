import { Ajv } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import { decide } from './decide.js';
import { acceptedEventsByFragment } from './read-model.js';
import { createEngineCache, type EngineCache } from './engine-cache.js';
import { defaultFragmentServices, type FragmentServices } from './fragment-services.js';
import type { CaseState, Command, DecideContext, Decision } from './types.js';

export interface EngineOptions {
  /** The fragment runtime, validator, checklist builder and CEL (default: src/fragments/). */
  fragments?: FragmentServices;
  /** Compiled fragments, schemas and expressions; share one across engines if you like. */
  cache?: EngineCache;
  /** Entries per cache when `cache` is not given (default 500). */
  cacheSize?: number;
}

export interface Engine {
  /**
   * Decides one command against one case (`undefined` for `case.open`). Pure; see `decide.ts`.
   * Never throws for a domain refusal: those come back as `{ ok: false, error }`.
   */
  decide(state: CaseState | undefined, command: Command, ctx: DecideContext): Decision;
  /**
   * Event types each active fragment of an open case accepts now, by fragment id (read model
   * for `GET /v1/cases/:id`); `{}` for a case that is not open. Throws TesseraError
   * DEFINITION_NOT_FOUND only when a fragment's definition cannot be resolved.
   */
  acceptedEvents(state: CaseState, ctx: Pick<DecideContext, 'template' | 'definitions'>): Record<string, string[]>;
}

// ajv-formats is CommonJS: under NodeNext its plugin is the module itself or its `default`.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  ((ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin));

/** Builds a case engine. Everything it caches lives in this instance (or the given cache). */
export function createEngine(options: EngineOptions = {}): Engine {
  // removeAdditional stays off: unknown fields are errors, never silently dropped.
  const ajv = new Ajv({ allErrors: true, strict: false, removeAdditional: false, useDefaults: false, coerceTypes: false });
  addFormats(ajv);
  const internals = {
    services: options.fragments ?? defaultFragmentServices(),
    cache: options.cache ?? createEngineCache(options.cacheSize),
    ajv,
  };
  return {
    decide: (state, command, ctx) => decide(internals, state, command, ctx),
    acceptedEvents: (state, ctx) => acceptedEventsByFragment(internals, state, ctx),
  };
}
