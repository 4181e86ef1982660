import type { ValidateFunction } from 'ajv';
import type { CompiledFragment } from '../fragments/runtime.js';

/** A Map that forgets its least recently used entry beyond `limit`. */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      // Re-insert so iteration order is recency order.
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * What the engine compiles once and reuses. Definitions and template versions are immutable,
 * so entries never go stale; the bound only caps memory.
 */
export interface EngineCache {
  /** `key@version` -> compiled fragment. */
  fragments: BoundedMap<string, CompiledFragment>;
  /** `template:<key>@<version>` or `form:<json>` -> Ajv validator. */
  validators: BoundedMap<string, ValidateFunction>;
  /** CEL source -> compiled expression. */
  expressions: BoundedMap<string, unknown>;
}

export function createEngineCache(limit = 500): EngineCache {
  return {
    fragments: new BoundedMap(limit),
    validators: new BoundedMap(limit),
    expressions: new BoundedMap(limit * 4),
  };
}
