/**
 * Irreversible masking of JSON held about a data subject (pure; no I/O). Safe by default: every
 * string is replaced by ERASED unless its key names structure — ids, types, states, keys, times
 * (SKELETON_KEYS, or a key ending in Id/_id/At/_at) — and even then it goes when it contains one
 * of the subject's known personal strings (name, e-mail, phone, handles, external ids, ...).
 * Numbers, booleans and the shape stay, so goals, timings and reports stay true.
 */
export const ERASED = '[erased]';

/** Keys whose string values are the case's skeleton, not what a person said or is. */
const SKELETON_KEYS = new Set([
  'id', 'type', 'kind', 'key', 'status', 'state', 'point', 'sla', 'priority', 'role', 'queue', 'source',
  'definition', 'fragment', 'goal', 'goalKey', 'timerId', 'taskId', 'contentId', 'fragmentId', 'event', 'from', 'to',
  'template', 'version', 'outcome', 'action', 'rule', 'model', 'resolution', 'channel', 'segment', 'tier', 'code',
  'milestone', 'step', 'closeReason', 'via', 'method', 'scope', 'computed', 'floor', 'label', 'visibility', 'media_type',
]);
/** Subtrees that are structure all the way down (XState state values, milestone times, template refs). */
const SKELETON_SUBTREES = new Set(['value', 'historyValue', 'milestones', 'template', 'tags', 'states', 'children', 'priorityInfo']);
const STRUCTURAL_KEY = /(Id|_id|Ids|_ids|At|_at)$/;
/** Shorter strings are too common to hunt for inside other values (they are still masked by key). */
const MIN_PERSONAL_LENGTH = 4;

export class PersonalStrings {
  private readonly needles: string[];
  constructor(values: Iterable<string>) {
    const set = new Set<string>();
    for (const v of values) {
      const s = v.trim().toLowerCase();
      if (s.length >= MIN_PERSONAL_LENGTH && s !== ERASED) set.add(s);
    }
    // Longest first: cheap early hits on the distinctive ones.
    this.needles = [...set].sort((a, b) => b.length - a.length);
  }
  get values(): readonly string[] {
    return this.needles;
  }
  found(text: string): boolean {
    const hay = text.toLowerCase();
    return this.needles.some((n) => hay.includes(n));
  }
}

/** Every string leaf of `value` (to learn a subject's personal strings from their case file, posts, outputs). */
export function stringsOf(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 64) return out;
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out, depth + 1);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringsOf(v, out, depth + 1);
  return out;
}

function keepsString(key: string | undefined, inSkeleton: boolean): boolean {
  if (inSkeleton) return true;
  return key !== undefined && (SKELETON_KEYS.has(key) || STRUCTURAL_KEY.test(key));
}

/** The masked copy of `value`. `key`: the key `value` sits under (undefined at the top). */
export function maskJson(value: unknown, personal: PersonalStrings, key?: string, inSkeleton = false, depth = 0): unknown {
  if (typeof value === 'string') return keepsString(key, inSkeleton) && !personal.found(value) ? value : ERASED;
  if (value === null || typeof value !== 'object') return value;
  if (depth > 64) return ERASED;
  if (Array.isArray(value)) return value.map((v) => maskJson(v, personal, key, inSkeleton, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // A key can itself be personal (a case file keyed by e-mail): then it goes too.
    const name = personal.found(k) ? `${ERASED}${Object.keys(out).length}` : k;
    out[name] = maskJson(v, personal, k, inSkeleton || SKELETON_SUBTREES.has(k), depth + 1);
  }
  return out;
}

/** Masks free text (a reason, a title): null stays null, anything else is ERASED. */
export function maskText(text: string | null): string | null {
  return text === null ? null : ERASED;
}
