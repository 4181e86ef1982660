/** The live bus of a single process (embedded mode): every stream is here, nothing crosses a wire. */
import type { ControlMessage, LiveBus, PresenceEntry, Viewer } from './live-bus.js';

export function createMemoryLiveBus(): LiveBus {
  const commitListeners: (() => void)[] = [];
  const presenceListeners: ((caseId: string) => void)[] = [];
  const controlListeners: ((message: ControlMessage) => void)[] = [];
  const presence = new Map<string, Map<string, Viewer>>();
  const streams = new Map<string, string>();
  const changed = (caseId: string) => {
    for (const l of presenceListeners) l(caseId);
  };
  return {
    kind: 'memory',
    publishCommits() {
      for (const l of commitListeners) l();
    },
    onCommits(listener) {
      commitListeners.push(listener);
    },
    async joinPresence(entry: PresenceEntry) {
      let viewers = presence.get(entry.caseId);
      if (!viewers) presence.set(entry.caseId, (viewers = new Map()));
      viewers.set(entry.streamId, entry.viewer);
      changed(entry.caseId);
    },
    async leavePresence(caseId, streamId) {
      const viewers = presence.get(caseId);
      if (!viewers?.delete(streamId)) return;
      if (viewers.size === 0) presence.delete(caseId);
      changed(caseId);
    },
    async refreshPresence() {
      // Nothing expires in one process: a stream leaves when it closes.
    },
    async viewers(caseId) {
      return [...(presence.get(caseId) ?? new Map<string, Viewer>()).entries()].map(([streamId, v]) => ({ ...v, streamId }));
    },
    onPresence(listener) {
      presenceListeners.push(listener);
    },
    async registerStreams(list) {
      for (const s of list) streams.set(s.streamId, s.userId);
    },
    async unregisterStream(streamId) {
      streams.delete(streamId);
    },
    async streamOwner(streamId) {
      return streams.get(streamId);
    },
    async forward(message) {
      for (const l of controlListeners) l(message);
    },
    onControl(listener) {
      controlListeners.push(listener);
    },
    async close() {
      presence.clear();
      streams.clear();
    },
  };
}
