/**
 * A position in the change feed: the `(tx, seq)` of a journal row (migration 0030). On the wire
 * it is the opaque string `<tx>.<seq>`, the SSE event id; clients keep it and never parse it.
 * Both parts are unsigned 64-bit integers, compared as BigInt.
 */
export interface FeedPosition {
  tx: bigint;
  seq: bigint;
}

/** Before every row: a reader starting here reads the whole journal. */
export const FEED_START: FeedPosition = { tx: 0n, seq: 0n };

const WIRE = /^(\d{1,20})\.(\d{1,20})$/;

export function encodePosition(p: FeedPosition): string {
  return `${p.tx}.${p.seq}`;
}

/** The position an event id names, or undefined for anything this server did not write. */
export function decodePosition(text: string | undefined | null): FeedPosition | undefined {
  if (typeof text !== 'string') return undefined;
  const match = WIRE.exec(text.trim());
  if (!match) return undefined;
  const tx = BigInt(match[1]!);
  const seq = BigInt(match[2]!);
  const max = (1n << 64n) - 1n;
  return tx <= max && seq <= max ? { tx, seq } : undefined;
}

export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export const isAfter = (a: FeedPosition, b: FeedPosition) => comparePositions(a, b) > 0;
