/**
 * JSON Merge Patch (RFC 7396): objects merge member by member, `null` removes a member, any
 * other value (arrays included) replaces. Pure; returns a new value, never changes `target`.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    // defineProperty: a member named `__proto__` stays a member, never the prototype.
    else Object.defineProperty(base, key, { value: mergePatch(Object.hasOwn(base, key) ? base[key] : undefined, value), enumerable: true, writable: true, configurable: true });
  }
  return base;
}
