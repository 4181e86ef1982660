/**
 * Activity validation, pure: every malformed field is named by a JSON pointer (relative to the
 * command's `activities` list) so the answer says what to fix, and nothing is written.
 */
import { ACTIVITY_BATCH_LIMIT, ACTIVITY_CLOCK_SKEW_MS, ACTIVITY_KINDS, type Activity, type ActivityInput, type ActivityKind } from './types.js';

/** RFC 3339 date-time: a date, `T` (or space), a time, and a zone (`Z` or an offset). */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export interface FieldProblem {
  pointer: string;
  detail: string;
}

export function isRfc3339(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [, , mo, d, h, mi, s] = m.map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return false;
  return Number.isFinite(Date.parse(value));
}

/**
 * Checks a batch and returns the activities in stored form (times as ISO UTC), or the problems.
 * `now` bounds the future: an activity more than ACTIVITY_CLOCK_SKEW_MS ahead is refused.
 */
export function validateActivities(
  inputs: readonly ActivityInput[],
  now: Date,
  newId: () => string,
  pointerBase = '/activities',
): { ok: true; activities: Activity[] } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  if (inputs.length === 0) problems.push({ pointer: pointerBase, detail: 'give at least one activity' });
  if (inputs.length > ACTIVITY_BATCH_LIMIT) problems.push({ pointer: pointerBase, detail: `at most ${ACTIVITY_BATCH_LIMIT} activities per request; split the batch` });
  const activities: Activity[] = [];
  inputs.forEach((input, n) => {
    const at = `${pointerBase}/${n}`;
    const before = problems.length;
    if (!(ACTIVITY_KINDS as readonly string[]).includes(input.kind)) {
      problems.push({ pointer: `${at}/kind`, detail: `unknown activity kind "${String(input.kind)}"; use one of ${ACTIVITY_KINDS.join(', ')}` });
    }
    if (!isRfc3339(input.at)) {
      problems.push({ pointer: `${at}/at`, detail: 'must be an RFC 3339 date-time with a zone, e.g. 2026-03-01T12:00:00Z' });
    } else if (Date.parse(input.at) > now.getTime() + ACTIVITY_CLOCK_SKEW_MS) {
      problems.push({ pointer: `${at}/at`, detail: `lies in the future (now is ${now.toISOString()}, ${ACTIVITY_CLOCK_SKEW_MS / 60_000} minutes of clock skew allowed)` });
    }
    if (input.amount !== undefined && (typeof input.amount !== 'number' || !Number.isFinite(input.amount))) {
      problems.push({ pointer: `${at}/amount`, detail: 'must be a finite number (e.g. 49.9), or left out' });
    }
    if (problems.length > before) return;
    const activity: Activity = { id: newId(), kind: input.kind as ActivityKind, at: new Date(input.at).toISOString() };
    if (input.amount !== undefined) activity.amount = input.amount as number;
    if (input.ref !== undefined) activity.ref = input.ref;
    if (input.channel !== undefined) activity.channel = input.channel;
    if (input.data !== undefined && Object.keys(input.data).length > 0) activity.data = input.data;
    activities.push(activity);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, activities };
}
