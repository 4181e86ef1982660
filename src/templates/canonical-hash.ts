/**
 * A stable fingerprint of JSON data, for telling whether a published key@version changed.
 *
 * `canonicalJson` writes object keys sorted (by UTF-16 code units, as Array#sort does) and
 * no insignificant whitespace; strings and numbers are written by JSON.stringify. For JSON
 * data this is the JSON Canonicalization Scheme (RFC 8785), so the hash does not depend on
 * key order, YAML vs JSON, or formatting — only on the data.
 */
import { createHash } from 'node:crypto';

/**
 * Throws TypeError for what JSON cannot hold (undefined at the top, functions, symbols,
 * bigint, non-finite numbers, cycles) instead of silently dropping it. Object members whose
 * value is `undefined` are skipped, as JSON.stringify does (optional fields left unset).
 */
export function canonicalJson(value: unknown): string {
  const ancestors = new Set<object>();
  const write = (v: unknown, where: string): string => {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: ${v} at ${where || '/'} is not a JSON number`);
      return JSON.stringify(v);
    }
    if (typeof v !== 'object') throw new TypeError(`canonicalJson: a ${typeof v} at ${where || '/'} is not JSON`);
    if (ancestors.has(v)) throw new TypeError(`canonicalJson: cycle at ${where || '/'}`);
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        return `[${v.map((item, i) => write(item === undefined ? null : item, `${where}/${i}`)).join(',')}]`;
      }
      const keys = Object.keys(v).sort();
      const members: string[] = [];
      for (const key of keys) {
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined) continue;
        members.push(`${JSON.stringify(key)}:${write(item, `${where}/${key}`)}`);
      }
      return `{${members.join(',')}}`;
    } finally {
      ancestors.delete(v);
    }
  };
  return write(value, '');
}

/** `sha256:<hex>` of `canonicalJson(value)`; store it next to each published definition. */
export function canonicalHash(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}
