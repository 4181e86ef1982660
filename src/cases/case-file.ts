import { reject } from './rejection.js';

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Sets `value` at a dotted `path` inside `target`, creating plain objects on the way and
 * replacing non-object intermediates. Refuses prototype-reaching segments and empty segments.
 */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  for (const segment of segments) {
    if (segment === '' || FORBIDDEN_SEGMENTS.has(segment)) {
      reject('INVALID_DEFINITION', `assignCaseFile path "${path}" is not allowed; use dotted plain field names.`, { path });
    }
  }
  let node: Record<string, unknown> = target;
  for (const segment of segments.slice(0, -1)) {
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[segment] = created;
      node = created;
    }
  }
  // Copy JSON-like values so later changes to the action's value cannot reach the case.
  node[segments[segments.length - 1] as string] = value === undefined ? null : structuredClone(value);
}
