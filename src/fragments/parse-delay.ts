import { Duration } from 'luxon';

/** The longest `after` delay or task `due` accepted: about five years. */
export const MAX_DELAY_MS = 5 * 366 * 24 * 60 * 60 * 1000;

export type DelayParse = { ok: true; ms: number } | { ok: false; message: string };

/**
 * Resolves an `after` key or a task `due` to milliseconds: a positive integer (`"5000"`) or
 * an ISO 8601 duration (`"PT4H"`, `"P2D"`, `"P1W"`). Years and months are refused because
 * their length depends on the calendar; a timer needs a fixed length.
 */
export function parseDelay(text: string): DelayParse {
  if (/^[0-9]+$/.test(text)) {
    const ms = Number(text);
    if (ms < 1 || !Number.isSafeInteger(ms)) return { ok: false, message: `"${text}" must be a positive number of milliseconds` };
    if (ms > MAX_DELAY_MS) return { ok: false, message: `"${text}" ms is longer than the limit of ${MAX_DELAY_MS} ms (5 years)` };
    return { ok: true, ms };
  }
  if (!text.startsWith('P') || text.length > 40) {
    return { ok: false, message: `"${clip(text)}" is neither milliseconds ("5000") nor an ISO 8601 duration ("PT1H", "P2D")` };
  }
  const duration = Duration.fromISO(text);
  if (!duration.isValid) {
    return { ok: false, message: `"${text}" is not a valid ISO 8601 duration; write e.g. "PT30M", "PT4H" or "P2D"` };
  }
  if (duration.years !== 0 || duration.quarters !== 0 || duration.months !== 0) {
    return { ok: false, message: `"${text}" uses years or months, whose length varies; write days instead (e.g. "P30D")` };
  }
  const ms = Math.round(duration.toMillis());
  if (!(ms >= 1)) return { ok: false, message: `"${text}" must be longer than zero` };
  if (ms > MAX_DELAY_MS) return { ok: false, message: `"${text}" is longer than the limit of 5 years` };
  return { ok: true, ms };
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
