/** A server-sent events client for tests: real HTTP to a listening app, events parsed as they come. */
import http from 'node:http';

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: any;
}

export interface SseClient {
  status: number;
  events: SseEvent[];
  /** Resolves with the first event (from `fromIndex` on) that matches, or rejects after `timeoutMs`. */
  next(match: (e: SseEvent) => boolean, timeoutMs?: number, fromIndex?: number): Promise<SseEvent>;
  lastId(): string | undefined;
  closed(): boolean;
  close(): void;
  body: string;
}

export function connectSse(baseUrl: string, path: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}${path}`, { headers: { accept: 'text/event-stream', ...headers } });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let ended = false;
      let body = '';
      let lastId: string | undefined;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let event = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event = value;
            else if (field === 'id') id = value;
            else if (field === 'data') data.push(value);
          }
          if (id !== undefined) lastId = id;
          if (data.length === 0) continue;
          const text = data.join('\n');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: kept as text.
          }
          events.push({ event, id, data: parsed });
          for (const w of [...waiters]) w();
        }
      });
      res.on('close', () => {
        ended = true;
        for (const w of [...waiters]) w();
      });
      const client: SseClient = {
        status: res.statusCode ?? 0,
        events,
        get body() {
          return body;
        },
        next(match, timeoutMs = 10_000, fromIndex = 0) {
          return new Promise((resolveNext, rejectNext) => {
            const check = () => {
              const found = events.slice(fromIndex).find(match);
              if (found) {
                cleanup();
                resolveNext(found);
              } else if (ended) {
                cleanup();
                rejectNext(new Error(`stream ended before a matching event; got ${events.map((e) => e.event).join(', ')}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              rejectNext(new Error(`no matching event in ${timeoutMs} ms; got ${events.map((e) => `${e.event}:${JSON.stringify(e.data).slice(0, 80)}`).join(' | ')}`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
        lastId: () => lastId,
        closed: () => ended,
        close() {
          req.destroy();
        },
      } as SseClient;
      resolve(client);
    });
  });
}
