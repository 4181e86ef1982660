/**
 * The browser side of the live stream (GET /v1/stream, protocol in the README "Live updates"):
 * ONE EventSource per tab, multiplexing what every mounted screen watches. Screens call
 * `watch({ cases, lists, tiles }, onEvent)`; the union of all watches is the stream's
 * subscription, changed in place with `PUT /v1/stream/:id/subscriptions` (or, before the stream
 * is ready, by opening it with the right query). The browser resends Last-Event-ID on its own
 * reconnects; a new EventSource after a close gets the last id as `last_event_id`.
 */
import { api } from '../api/client';

export interface Subscriptions {
  cases?: string[];
  lists?: string[];
  tiles?: boolean;
}

export interface LiveEvent {
  type: 'ready' | 'snapshot' | 'case' | 'list' | 'tiles' | 'presence' | 'subscribed';
  data: Record<string, unknown> & { case_id?: string; version?: number; list?: string };
}

type Handler = (event: LiveEvent) => void;
interface Watch {
  subs: Subscriptions;
  onEvent: Handler;
}

const EVENT_TYPES: LiveEvent['type'][] = ['ready', 'snapshot', 'case', 'list', 'tiles', 'presence', 'subscribed'];

const watches = new Set<Watch>();
let source: EventSource | undefined;
let streamId: string | undefined;
let userId: string | undefined;
let lastEventId: string | undefined;
let applied = '';
let flush: number | undefined;
/** Case versions screens hold, so a PUT can ask for what committed since (no gap). */
const heldVersions = new Map<string, number>();

function union(): Required<Subscriptions> {
  const cases = new Set<string>();
  const lists = new Set<string>();
  let tiles = false;
  for (const w of watches) {
    w.subs.cases?.forEach((c) => cases.add(c));
    w.subs.lists?.forEach((l) => lists.add(l));
    tiles ||= w.subs.tiles === true;
  }
  return { cases: [...cases].sort(), lists: [...lists].sort(), tiles };
}

function queryOf(s: Required<Subscriptions>): string {
  const p = new URLSearchParams();
  if (s.cases.length) p.set('cases', s.cases.join(','));
  if (s.lists.length) p.set('lists', s.lists.join(','));
  if (s.tiles) p.set('tiles', 'true');
  if (lastEventId) p.set('last_event_id', lastEventId);
  return p.toString();
}

function dispatch(type: LiveEvent['type'], raw: MessageEvent<string>): void {
  if (raw.lastEventId) lastEventId = raw.lastEventId;
  let data: LiveEvent['data'];
  try {
    data = JSON.parse(raw.data) as LiveEvent['data'];
  } catch {
    return;
  }
  if (type === 'ready') {
    streamId = data.stream_id as string;
    userId = data.user_id as string;
  }
  for (const w of [...watches]) w.onEvent({ type, data });
}

function open(s: Required<Subscriptions>): void {
  source?.close();
  streamId = undefined;
  applied = JSON.stringify(s);
  if (!s.cases.length && !s.lists.length && !s.tiles) {
    source = undefined;
    return;
  }
  const es = new EventSource(`/v1/stream?${queryOf(s)}`, { withCredentials: true });
  for (const t of EVENT_TYPES) es.addEventListener(t, (e) => dispatch(t, e as MessageEvent<string>));
  source = es;
}

async function sync(): Promise<void> {
  const s = union();
  const key = JSON.stringify(s);
  if (key === applied) return;
  if (!source || !streamId || source.readyState === EventSource.CLOSED) {
    open(s);
    return;
  }
  applied = key;
  const versions: Record<string, number> = {};
  for (const c of s.cases) {
    const v = heldVersions.get(c);
    if (v !== undefined) versions[c] = v;
  }
  try {
    await api.put(`/v1/stream/${encodeURIComponent(streamId)}/subscriptions`, { ...s, versions });
  } catch {
    // The stream is gone (another process, a restart): open a new one, resuming from the last id.
    open(s);
  }
}

function schedule(): void {
  window.clearTimeout(flush);
  // Screens mount and unmount together on navigation: apply the net change once.
  flush = window.setTimeout(() => void sync(), 30);
}

/** Watch cases / lists / tiles; returns the unwatch. */
export function watch(subs: Subscriptions, onEvent: Handler): () => void {
  const w: Watch = { subs, onEvent };
  watches.add(w);
  schedule();
  return () => {
    watches.delete(w);
    schedule();
  };
}

/** The version a screen holds of a case (sent with subscription changes). */
export function holdVersion(caseId: string, version: number): void {
  heldVersions.set(caseId, version);
}

/** The signed-in user's id as the stream knows it (to leave oneself out of presence). */
export function streamUserId(): string | undefined {
  return userId;
}

/** Ends the stream (sign-out). */
export function closeLive(): void {
  source?.close();
  source = undefined;
  streamId = undefined;
  applied = '';
  lastEventId = undefined;
}
