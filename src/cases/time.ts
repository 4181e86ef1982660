import { DateTime, Duration } from 'luxon';
import { reject } from './rejection.js';

/** `from` plus an ISO 8601 duration (`PT4H`, `P2D`), as an ISO timestamp in UTC. */
export function addIsoDuration(from: Date, iso: string, what: string): string {
  const duration = Duration.fromISO(iso);
  if (!duration.isValid) {
    reject('VALIDATION_FAILED', `${what}: "${iso}" is not an ISO 8601 duration; use e.g. "PT4H" or "P2D".`);
  }
  return DateTime.fromJSDate(from, { zone: 'utc' }).plus(duration).toJSDate().toISOString();
}

export function addMilliseconds(from: Date, ms: number): string {
  return new Date(from.getTime() + ms).toISOString();
}

/** Normalises an ISO timestamp given by a caller; rejects anything that is not one. */
export function parseTimestamp(value: string, what: string): string {
  const parsed = DateTime.fromISO(value, { zone: 'utc' });
  if (!parsed.isValid) {
    reject('VALIDATION_FAILED', `${what}: "${value}" is not an ISO 8601 timestamp; use e.g. "2026-01-31T17:00:00Z".`);
  }
  return parsed.toJSDate().toISOString();
}
