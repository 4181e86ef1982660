/**
 * The live streams of one API process: it opens them (ready, then a resume from the feed or a
 * snapshot), hands every committed change to the streams that watch it and may see it (the
 * API's own access rules, case-access.ts), sends SLA tiles at most once a `tilesIntervalMs`, and
 * keeps presence (who views which case) across processes through the live bus.
 *
 * Ordering: the change feed delivers changes in feed order; a stream that is replaying from
 * Postgres ignores live changes until its replay has reached what the feed delivered, then
 * takes live ones after the last position it was sent. So a stream gets every change once, in
 * order, whether it came by replay or live.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../persistence/api-key-store.js';
import { feedRowTime, readCaseHeads, readCaseJournalSince, readSlaTiles, type CaseHeadRow } from '../persistence/feed-store.js';
import type { Database } from '../persistence/schema.js';
import { accessView, mayWatch } from './case-access.js';
import { groupChanges, type CaseChange, type ChangeFeed } from './change-feed.js';
import { comparePositions, decodePosition, encodePosition, type FeedPosition } from './feed-position.js';
import type { LiveBus, PresenceEntry } from './live-bus.js';
import { createLiveStream, sseFrame, type LiveStream, type StreamSink, type Subscriptions } from './live-stream.js';
import { followPrincipal } from './live-subscriptions.js';
import { readStreamUsers } from '../persistence/live-principal-queries.js';

export interface LiveHubDeps {
  db: Kysely<Database>;
  feed: ChangeFeed;
  bus: LiveBus;
  logger: Logger;
  heartbeatMs: number;
  /** SLA tiles at most this often (default 1 s). */
  tilesIntervalMs?: number;
  /** Presence and stream registrations are re-announced this often (default 10 s). */
  refreshMs?: number;
  /** A client that leaves more unsent is disconnected (default 1 MiB). */
  maxBufferBytes?: number;
  /** A resume further back than this many journal rows gets a snapshot (default 1,000). */
  maxReplayRows?: number;
  /** ...or older than this (default 10 min). */
  maxReplayAgeMs?: number;
  /**
   * The users of open streams are re-read this often (default 2 s), so a team change, a
   * demotion or a disabled account applies to a stream without a reconnect, on every process.
   * The process that made the change applies it at once (`refreshPrincipals`).
   */
  principalRefreshMs?: number;
}

export type SnapshotReason = 'initial' | 'gap_too_old' | 'unknown_position';

/** Replaces a stream's subscriptions; `versions`: the case versions the client holds. */
export interface SubscriptionChange {
  subscriptions: Subscriptions;
  versions?: Record<string, number>;
}

const REPLAY_PAGE = 500;
const CASE_REPLAY_LIMIT = 1_000;

function headView(h: CaseHeadRow) {
  return {
    case_id: h.caseId,
    version: h.version,
    title: h.title,
    status: h.status,
    priority: h.priority,
    owner_id: h.ownerId,
    queue: h.queue,
    customer_id: h.customerId,
    template_key: h.templateKey,
    updated_at: h.updatedAt,
  };
}

function subscriptionsView(s: Subscriptions) {
  return { cases: s.cases, lists: s.lists, tiles: s.tiles };
}

export function createLiveHub(deps: LiveHubDeps) {
  const { feed, bus, logger } = deps;
  const maxBufferBytes = deps.maxBufferBytes ?? 1 << 20;
  const maxReplayRows = deps.maxReplayRows ?? 1_000;
  const maxReplayAgeMs = deps.maxReplayAgeMs ?? 10 * 60_000;
  const streams = new Map<string, LiveStream>();
  /** Streams whose `open` has not finished, by id: a principal refresh waits for them. */
  const opening = new Map<string, Promise<void>>();
  const closing = new Set<Promise<void>>();
  let tilesDirty = false;
  let closed = false;

  // --- delivery -------------------------------------------------------------------------------

  /** The frames of one change, serialised once for every stream that gets them. */
  function caseFrame(change: CaseChange & { frame?: string }): string {
    change.frame ??= sseFrame(
      'case',
      JSON.stringify({
        case_id: change.caseId,
        version: change.version,
        position: encodePosition(change.position),
        case: change.head ? headView(change.head) : null,
        entries: change.entries,
      }),
      encodePosition(change.position),
    );
    return change.frame;
  }

  function deliver(stream: LiveStream, change: CaseChange, ids = true): void {
    if (ids && comparePositions(change.position, stream.delivered) <= 0) return;
    const visible = change.view !== undefined && mayWatch(stream.principal, change.view);
    const id = ids ? encodePosition(change.position) : undefined;
    if (stream.watches(change.caseId)) {
      if (visible) {
        stream.send(ids ? caseFrame(change) : sseFrame('case', JSON.stringify({ case_id: change.caseId, version: change.version, position: encodePosition(change.position), case: change.head ? headView(change.head) : null, entries: change.entries })));
        if (!stream.viewing.has(change.caseId)) void startViewing(stream, [change.caseId]);
      } else if (stream.viewing.has(change.caseId)) {
        void stopViewing(stream, [change.caseId]);
      }
    }
    const { now, before } = change.relevance;
    const userId = stream.principal.userId;
    for (const list of stream.subscriptions.lists) {
      const touched =
        list === 'inbox'
          ? now.users.has(userId) || before?.users.has(userId) === true
          : now.queues.has(list.slice(6)) || before?.queues.has(list.slice(6)) === true;
      if (!touched) continue;
      stream.send(sseFrame('list', JSON.stringify({ list, case_id: visible ? change.caseId : null, version: visible ? change.version : null }), id));
    }
    if (ids) stream.delivered = change.position;
  }

  feed.onChanges((changes) => {
    for (const stream of streams.values()) {
      if (stream.mode !== 'live' || !stream.open) continue;
      for (const change of changes) deliver(stream, change);
    }
    tilesDirty = true;
  });

  /** Replays from Postgres after `from` until the stream has what the feed delivered, then live. */
  async function catchUp(stream: LiveStream, from: FeedPosition): Promise<void> {
    let position = from;
    stream.delivered = from;
    for (;;) {
      const read = await feed.readSince(position, REPLAY_PAGE);
      for (const change of read.changes) deliver(stream, change);
      position = read.last;
      if (read.rows < REPLAY_PAGE) {
        const fed = feed.position();
        if (!fed || comparePositions(position, fed) >= 0) {
          if (comparePositions(position, stream.delivered) > 0) stream.delivered = position;
          stream.mode = 'live';
          return;
        }
      }
    }
  }

  async function resumable(from: FeedPosition): Promise<SnapshotReason | undefined> {
    const at = await feedRowTime(deps.db, from);
    if (!at) return 'unknown_position';
    if (Date.now() - at.getTime() > maxReplayAgeMs) return 'gap_too_old';
    const ahead = await feed.readSince(from, maxReplayRows + 1);
    return ahead.rows > maxReplayRows ? 'gap_too_old' : undefined;
  }

  // --- tiles ----------------------------------------------------------------------------------

  async function tilesFrame(): Promise<string> {
    const tiles = await readSlaTiles(deps.db);
    const position = feed.position();
    const id = position ? encodePosition(position) : undefined;
    return sseFrame('tiles', JSON.stringify(tilesView(tiles, id)), id);
  }

  function tilesView(tiles: Awaited<ReturnType<typeof readSlaTiles>>, position: string | undefined) {
    return { position: position ?? null, ...tiles.total, by_queue: tiles.byQueue };
  }

  const tilesTimer = setInterval(() => {
    if (!tilesDirty) return;
    const watching = [...streams.values()].filter((s) => s.mode === 'live' && s.subscriptions.tiles);
    if (watching.length === 0) return;
    tilesDirty = false;
    tilesFrame()
      .then((frame) => {
        for (const s of watching) s.send(frame);
      })
      .catch((err: unknown) => logger.warn({ err }, 'live: SLA tiles could not be read'));
  }, deps.tilesIntervalMs ?? 1_000);
  tilesTimer.unref();

  // --- presence -------------------------------------------------------------------------------

  function presenceEntry(stream: LiveStream, caseId: string): PresenceEntry {
    return { caseId, streamId: stream.id, viewer: { userId: stream.principal.userId, role: stream.principal.role, since: stream.viewing.get(caseId)! } };
  }

  async function startViewing(stream: LiveStream, caseIds: string[]): Promise<void> {
    const at = new Date().toISOString();
    for (const caseId of caseIds) {
      if (stream.viewing.has(caseId)) continue;
      stream.viewing.set(caseId, at);
      await bus.joinPresence(presenceEntry(stream, caseId)).catch((err: unknown) => logger.warn({ err }, 'live: presence join failed'));
    }
  }

  async function stopViewing(stream: LiveStream, caseIds: string[]): Promise<void> {
    // All at once, then the bus: no presence frame of these cases is sent to it meanwhile.
    const left = caseIds.filter((caseId) => stream.viewing.delete(caseId));
    for (const caseId of left) {
      await bus.leavePresence(caseId, stream.id).catch((err: unknown) => logger.warn({ err }, 'live: presence leave failed'));
    }
  }

  /** One entry per user (a user with two tabs on a case is one viewer), earliest first. */
  async function presenceFrame(caseId: string): Promise<string> {
    const byUser = new Map<string, { user_id: string; role: string; since: string }>();
    for (const v of await bus.viewers(caseId)) {
      const seen = byUser.get(v.userId);
      if (!seen || v.since < seen.since) byUser.set(v.userId, { user_id: v.userId, role: v.role, since: v.since });
    }
    const viewers = [...byUser.values()].sort((a, b) => a.since.localeCompare(b.since) || a.user_id.localeCompare(b.user_id));
    return sseFrame('presence', JSON.stringify({ case_id: caseId, viewers }));
  }

  /** The last presence frame sent per case, so a refresh only sends what changed. */
  const lastPresence = new Map<string, string>();

  async function sendPresence(caseId: string, only?: LiveStream): Promise<void> {
    const watchers = only ? [only] : [...streams.values()].filter((s) => s.viewing.has(caseId));
    if (watchers.length === 0) {
      lastPresence.delete(caseId);
      return;
    }
    try {
      const frame = await presenceFrame(caseId);
      if (!only) lastPresence.set(caseId, frame);
      for (const s of watchers) if (s.viewing.has(caseId)) s.send(frame);
    } catch (err) {
      logger.warn({ err, caseId }, 'live: presence could not be read');
    }
  }

  bus.onPresence((caseId) => void sendPresence(caseId));

  const refreshTimer = setInterval(() => {
    const all = [...streams.values()];
    const entries = all.flatMap((s) => [...s.viewing.keys()].map((caseId) => presenceEntry(s, caseId)));
    void bus.refreshPresence(entries).catch((err: unknown) => logger.warn({ err }, 'live: presence refresh failed'));
    void bus.registerStreams(all.map((s) => ({ streamId: s.id, userId: s.principal.userId }))).catch((err: unknown) => logger.warn({ err }, 'live: stream registration failed'));
    // Viewers of a process that died expire: re-read the cases watched here, send what changed.
    if (bus.kind === 'memory') return;
    for (const caseId of new Set(entries.map((e) => e.caseId))) {
      void presenceFrame(caseId)
        .then((frame) => {
          if (lastPresence.get(caseId) === frame) return;
          lastPresence.set(caseId, frame);
          for (const s of streams.values()) if (s.viewing.has(caseId)) s.send(frame);
        })
        .catch(() => undefined);
    }
  }, deps.refreshMs ?? 10_000);
  refreshTimer.unref();

  // --- subscriptions --------------------------------------------------------------------------

  /** Which watched cases the stream's user may see now (the others are `unavailable`). */
  async function visibleCases(principal: Principal, caseIds: readonly string[]) {
    const heads = await readCaseHeads(deps.db, caseIds);
    const visible: CaseHeadRow[] = [];
    const unavailable: string[] = [];
    for (const id of caseIds) {
      const head = heads.get(id);
      if (head && mayWatch(principal, accessView(head.access))) visible.push(head);
      else unavailable.push(id);
    }
    return { visible, unavailable };
  }

  async function sendSnapshot(stream: LiveStream, reason: SnapshotReason, position: FeedPosition): Promise<string[]> {
    const { visible, unavailable } = await visibleCases(stream.principal, stream.subscriptions.cases);
    const tiles = stream.subscriptions.tiles ? await readSlaTiles(deps.db) : undefined;
    const id = encodePosition(position);
    stream.send(
      sseFrame(
        'snapshot',
        JSON.stringify({ reason, position: id, cases: visible.map(headView), unavailable, lists: stream.subscriptions.lists, tiles: tiles ? tilesView(tiles, id) : null }),
        id,
      ),
    );
    return visible.map((h) => h.caseId);
  }

  async function applySubscriptions(stream: LiveStream, change: SubscriptionChange): Promise<void> {
    const previous = stream.subscriptions;
    stream.setSubscriptions(change.subscriptions);
    const added = change.subscriptions.cases.filter((id) => !previous.cases.includes(id));
    const removed = previous.cases.filter((id) => !change.subscriptions.cases.includes(id));
    await stopViewing(stream, removed);
    const { visible, unavailable } = await visibleCases(stream.principal, change.subscriptions.cases);
    stream.send(sseFrame('subscribed', JSON.stringify({ subscriptions: subscriptionsView(change.subscriptions), unavailable })));
    // What the client missed between its GET and this subscription, from the case's journal.
    for (const head of visible) {
      const held = change.versions?.[head.caseId];
      if (held === undefined || held >= head.version) continue;
      const rows = await readCaseJournalSince(deps.db, head.caseId, held, CASE_REPLAY_LIMIT);
      const heads = new Map([[head.caseId, head]]);
      for (const c of groupChanges(rows, heads, () => undefined)) deliver(stream, { ...c, relevance: { now: { users: new Set(), queues: new Set() }, before: undefined } }, false);
    }
    const newlyVisible = visible.map((h) => h.caseId).filter((id) => added.includes(id) || !stream.viewing.has(id));
    await startViewing(stream, newlyVisible);
    if (change.subscriptions.tiles && !previous.tiles) stream.send(await tilesFrame());
    // The presence of every case it now views (joining also tells the other viewers).
    for (const caseId of newlyVisible) await sendPresence(caseId, stream);
  }

  bus.onControl((message) => {
    const stream = streams.get(message.streamId);
    if (!stream || stream.principal.userId !== message.userId) return;
    void applySubscriptions(stream, message.body as SubscriptionChange).catch((err: unknown) => logger.warn({ err }, 'live: a forwarded subscription change failed'));
  });

  // --- who the stream's user is now -----------------------------------------------------------

  const ROLE_RANK: Record<string, number> = { agent: 1, supervisor: 2, admin: 3 };
  const sameTeams = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t) => b.includes(t));

  /**
   * Re-reads the users of open streams (all, or these) and applies what changed: teams (the
   * lists and cases it may see), a lower role (an API key's cap is never raised), or a disabled
   * user (the stream ends). The client hears a `subscribed` frame with what it now gets.
   */
  async function refreshPrincipals(userIds?: readonly string[]): Promise<void> {
    const held = [...streams.values()].filter((s) => s.open && s.principal.kind === 'user' && (!userIds || userIds.includes(s.principal.userId)));
    if (held.length === 0) return;
    // A stream still opening decided what it views with the user as it was: let it finish, then
    // apply the change to what it ended up with (else it could start viewing a case it lost).
    await Promise.allSettled(held.map((s) => opening.get(s.id)));
    const rows = await readStreamUsers(deps.db, [...new Set(held.map((s) => s.principal.userId))]);
    for (const stream of held) {
      const row = rows.get(stream.principal.userId);
      if (!row || row.disabled) {
        stream.close();
        continue;
      }
      const before = stream.principal;
      const role = (ROLE_RANK[row.role] ?? 0) < (ROLE_RANK[before.role] ?? 0) ? (row.role as Principal['role']) : before.role;
      if (role === before.role && sameTeams(row.teams, before.teams)) continue;
      const principal: Principal = { ...before, role, teams: [...row.teams] };
      // Cases it views but may no longer see: it stops being a viewer there before anything else
      // is sent, so not even a presence frame of such a case reaches it after the change.
      const { unavailable } = await visibleCases(principal, [...stream.viewing.keys()]);
      stream.setPrincipal(principal);
      await stopViewing(stream, unavailable);
      await applySubscriptions(stream, { subscriptions: followPrincipal(principal, stream.subscriptions, before.teams) });
      logger.info({ streamId: stream.id, userId: before.userId, teams: row.teams, role }, 'live: a stream follows its user\'s change');
    }
  }

  let refreshing: Promise<void> | undefined;
  const principalTimer = setInterval(() => {
    if (refreshing || streams.size === 0) return;
    refreshing = refreshPrincipals()
      .catch((err: unknown) => logger.warn({ err }, 'live: stream users could not be re-read'))
      .finally(() => (refreshing = undefined));
  }, deps.principalRefreshMs ?? 2_000);
  principalTimer.unref();

  // --- streams --------------------------------------------------------------------------------

  /** `ready`, the resume or the snapshot, then the presence of the cases it views; live after. */
  async function startStream(stream: LiveStream, lastEventId: string | undefined): Promise<void> {
    await bus.registerStreams([{ streamId: stream.id, userId: stream.principal.userId }]).catch((err: unknown) => logger.warn({ err }, 'live: stream registration failed'));
    const from = decodePosition(lastEventId);
    stream.send(`retry: 2000\n\n`);
    const ready = { stream_id: stream.id, user_id: stream.principal.userId, role: stream.principal.role, heartbeat_ms: deps.heartbeatMs, resumed: from !== undefined, subscriptions: subscriptionsView(stream.subscriptions) };
    stream.send(sseFrame('ready', JSON.stringify(ready)));
    const head = await feed.ready();
    // Why there is no resume: none asked for, an id this server did not write, or too far back.
    let refused: SnapshotReason | undefined;
    if (lastEventId === undefined) refused = 'initial';
    else if (!from) refused = 'unknown_position';
    else refused = await resumable(from);
    let start: FeedPosition;
    if (refused === undefined && from) {
      start = from;
    } else {
      start = feed.position() ?? head;
      await sendSnapshot(stream, refused ?? 'initial', start);
    }
    await catchUp(stream, start);
    const visible = (await visibleCases(stream.principal, stream.subscriptions.cases)).visible.map((h) => h.caseId);
    await startViewing(stream, visible);
    for (const caseId of visible) await sendPresence(caseId, stream);
    if (refused === undefined && stream.subscriptions.tiles) stream.send(await tilesFrame());
  }

  async function closeStream(stream: LiveStream): Promise<void> {
    streams.delete(stream.id);
    await stopViewing(stream, [...stream.viewing.keys()]);
    await bus.unregisterStream(stream.id).catch(() => undefined);
  }

  return {
    /**
     * Opens a stream: `ready`, then the events after `lastEventId` (or a `snapshot`), the
     * presence of the cases it views, then live events. Resolves once it is live.
     */
    async open(input: { principal: Principal; subscriptions: Subscriptions; lastEventId: string | undefined; sink: StreamSink }): Promise<LiveStream> {
      if (closed) throw new Error('the live hub is closed');
      const stream = createLiveStream({
        id: randomUUID(),
        principal: input.principal,
        subscriptions: input.subscriptions,
        sink: input.sink,
        maxBufferBytes,
        onClose: () => {
          const done = closeStream(stream)
            .catch((err: unknown) => logger.warn({ err }, 'live: closing a stream failed'))
            .finally(() => closing.delete(done));
          closing.add(done);
        },
      });
      streams.set(stream.id, stream);
      const started = startStream(stream, input.lastEventId);
      opening.set(stream.id, started);
      try {
        await started;
      } catch (err) {
        stream.close();
        throw err;
      } finally {
        opening.delete(stream.id);
      }
      return stream;
    },

    /** 'applied' (held here), 'forwarded' (held by another process), or 'not_found'. */
    async changeSubscriptions(streamId: string, principal: Principal, change: SubscriptionChange): Promise<'applied' | 'forwarded' | 'not_found'> {
      const local = streams.get(streamId);
      if (local) {
        if (local.principal.userId !== principal.userId) return 'not_found';
        await applySubscriptions(local, change);
        return 'applied';
      }
      if (bus.kind === 'memory') return 'not_found';
      const owner = await bus.streamOwner(streamId);
      if (owner !== principal.userId) return 'not_found';
      await bus.forward({ streamId, userId: principal.userId, body: change });
      return 'forwarded';
    },

    /** Applies a user's change to their open streams on this process now (the others within `principalRefreshMs`). */
    refreshPrincipals: (userIds?: readonly string[]) => refreshPrincipals(userIds),

    /** Open streams on this process (for a metrics gauge). */
    openStreams: (): number => streams.size,
    /** Presence entries held by this process (tests: nothing leaks after streams close). */
    viewingCount: (): number => [...streams.values()].reduce((n, s) => n + s.viewing.size, 0),
    stream: (id: string) => streams.get(id),

    async close(): Promise<void> {
      closed = true;
      clearInterval(tilesTimer);
      clearInterval(refreshTimer);
      clearInterval(principalTimer);
      for (const stream of [...streams.values()]) stream.close();
      await Promise.all([...closing]);
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;
