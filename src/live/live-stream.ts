/**
 * One live stream (one browser tab): what it watches, what it was sent up to, and its socket.
 * Events are framed here and written straight to the socket without waiting for it to drain:
 * a stream never holds a listener or a promise per event, so a slow or dead client costs its
 * buffered bytes and nothing else — and once those pass `maxBufferBytes` the stream is closed
 * (the browser reconnects with Last-Event-ID and resumes).
 */
import type { Principal } from '../persistence/api-key-store.js';
import { FEED_START, type FeedPosition } from './feed-position.js';

export interface Subscriptions {
  cases: string[];
  /** `inbox` and `queue:<name>` (`queues` is expanded to the user's teams before this). */
  lists: string[];
  tiles: boolean;
  /** It asked for `queues` (its user's teams): the list follows a team change while it is open. */
  teamQueues?: boolean;
}

/** Where a stream's bytes go: the HTTP response in production, a buffer in unit tests. */
export interface StreamSink {
  write(chunk: string): void;
  /** Bytes written but not yet taken by the client. */
  buffered(): number;
  end(): void;
}

/** One SSE frame. `data` is one line of JSON (JSON.stringify escapes every line break). */
export function sseFrame(event: string, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

export function createLiveStream(input: { id: string; principal: Principal; subscriptions: Subscriptions; sink: StreamSink; maxBufferBytes: number; onClose: () => void }) {
  const { sink } = input;
  let open = true;
  let subscriptions = input.subscriptions;
  let principal = input.principal;
  let cases = new Set(subscriptions.cases);
  let lists = new Set(subscriptions.lists);
  const stream = {
    id: input.id,
    /** Re-read while the stream is open (live-hub.ts): a team change applies without reconnecting. */
    get principal(): Principal {
      return principal;
    },
    setPrincipal(next: Principal) {
      principal = next;
    },
    /** `catching_up` while it replays from Postgres; live events pass it by until it is `live`. */
    mode: 'catching_up' as 'catching_up' | 'live',
    /** The last feed position it was sent (or that it skipped as not its business). */
    delivered: FEED_START as FeedPosition,
    /** Watched cases it may see, and since when (presence). */
    viewing: new Map<string, string>(),
    dropped: false,
    get open() {
      return open;
    },
    get subscriptions(): Subscriptions {
      return subscriptions;
    },
    watches: (caseId: string) => cases.has(caseId),
    watchesList: (list: string) => lists.has(list),
    setSubscriptions(next: Subscriptions) {
      subscriptions = next;
      cases = new Set(next.cases);
      lists = new Set(next.lists);
    },
    /** Writes a frame; closes a stream whose client has not taken the last `maxBufferBytes`. */
    send(frame: string): void {
      if (!open) return;
      if (sink.buffered() > input.maxBufferBytes) {
        stream.dropped = true;
        stream.close();
        return;
      }
      sink.write(frame);
    },
    close(): void {
      if (!open) return;
      open = false;
      try {
        sink.end();
      } finally {
        input.onClose();
      }
    },
  };
  return stream;
}

export type LiveStream = ReturnType<typeof createLiveStream>;
