/**
 * What a draft changes against the current version, as a list a reviewer reads top to bottom:
 * JSON pointers with what was there and what will be. Lists of strings (fragment refs, roles)
 * are compared as sets (`add` / `remove` of members, pointer to the list); other arrays by
 * index; objects by key. Pure.
 */
export interface Change {
  op: 'add' | 'remove' | 'replace';
  /** JSON pointer into the template. */
  path: string;
  before?: unknown;
  after?: unknown;
}

const escape = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function diffTemplates(before: unknown, after: unknown, path = ''): Change[] {
  if (same(before, after)) return [];
  if (before === undefined) return [{ op: 'add', path, after }];
  if (after === undefined) return [{ op: 'remove', path, before }];
  if (Array.isArray(before) && Array.isArray(after)) {
    if ([...before, ...after].every((v) => typeof v === 'string')) {
      return [
        ...after.filter((v) => !before.includes(v)).map((v): Change => ({ op: 'add', path, after: v })),
        ...before.filter((v) => !after.includes(v)).map((v): Change => ({ op: 'remove', path, before: v })),
      ];
    }
    const changes: Change[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) changes.push(...diffTemplates(before[i], after[i], `${path}/${i}`));
    return changes;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffTemplates(before[k], after[k], `${path}/${escape(k)}`));
  }
  return [{ op: 'replace', path, before, after }];
}
