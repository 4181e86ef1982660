/**
 * What API processes tell each other about live streams: that cases changed (a wake-up: each
 * process then reads the change feed from Postgres in order), who views which case (presence),
 * and subscription changes for a stream another process holds. In queue mode through Redis
 * (redis-live-bus.ts), embedded in process (memory-live-bus.ts). Redis is transport only:
 * a lost message delays a live event until the next feed poll, it never loses one.
 */

/** A viewer of a case: one live stream of a user that watches it. */
export interface Viewer {
  userId: string;
  role: string;
  /** When the stream started watching the case (ISO). */
  since: string;
}

/** Which cases a transaction changed (receivers only need to know that something did). */
export interface CommitNotice {
  cases: string[];
}

export interface PresenceEntry {
  caseId: string;
  streamId: string;
  viewer: Viewer;
}

/** A subscription change for a stream, forwarded to the process that holds it. */
export interface ControlMessage {
  streamId: string;
  userId: string;
  body: unknown;
}

export interface LiveBus {
  readonly kind: 'memory' | 'redis';
  /** After commit; never throws, never waits (a failed publish is logged and only delays). */
  publishCommits(notice: CommitNotice): void;
  onCommits(listener: () => void): void;

  joinPresence(entry: PresenceEntry): Promise<void>;
  leavePresence(caseId: string, streamId: string): Promise<void>;
  /** Re-announces this process's viewers (they expire unless refreshed, so a dead process's go). */
  refreshPresence(entries: readonly PresenceEntry[]): Promise<void>;
  /** Live viewers of a case, one per stream. */
  viewers(caseId: string): Promise<(Viewer & { streamId: string })[]>;
  onPresence(listener: (caseId: string) => void): void;

  registerStreams(streams: readonly { streamId: string; userId: string }[]): Promise<void>;
  unregisterStream(streamId: string): Promise<void>;
  /** The user whose stream this is, wherever it is held; undefined when no process holds it. */
  streamOwner(streamId: string): Promise<string | undefined>;
  forward(message: ControlMessage): Promise<void>;
  onControl(listener: (message: ControlMessage) => void): void;

  close(): Promise<void>;
}
