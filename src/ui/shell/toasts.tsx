/**
 * Toasts for what no panel can show at its field: the server unreachable or failing. Each says
 * what happened to the user's work and what to do; errors stay until dismissed (a message that
 * vanishes before it is read is worse than none), notices go after 6 s.
 */
import { useEffect, useState } from 'preact/hooks';
import { onRequestFailure } from '../api/client';

interface Toast {
  id: number;
  tone: 'error' | 'notice';
  text: string;
}

let nextId = 0;
const listeners = new Set<(t: Toast) => void>();

export function toast(text: string, tone: Toast['tone'] = 'notice'): void {
  const t = { id: ++nextId, tone, text };
  listeners.forEach((l) => l(t));
}

/** The words for a failed request: whether anything changed, and what to do now. */
export function failureText(method: string, status: number | undefined): string {
  const write = method !== 'GET';
  const changed = write ? ' Your change was not saved.' : '';
  if (status === undefined) return `Tessera cannot be reached: check your network connection.${changed} ${write ? 'Try again' : 'The screen reloads'} once you are back online.`;
  if (status === 503) return `Tessera is busy or restarting (HTTP 503).${changed} Try again in a few seconds.`;
  return `Tessera failed to answer (HTTP ${status}).${changed} Try again; if it keeps failing, tell your administrator the time it happened.`;
}

export function Toasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(() => {
    const dismissLater = (t: Toast) => window.setTimeout(() => setToasts((all) => all.filter((x) => x.id !== t.id)), 6_000);
    const add = (t: Toast) => {
      // The same words twice in a row (a retrying screen) are one toast.
      setToasts((all) => (all.some((x) => x.text === t.text) ? all : [...all.slice(-3), t]));
      if (t.tone === 'notice') dismissLater(t);
    };
    listeners.add(add);
    const off = onRequestFailure((method, status) => toast(failureText(method, status), 'error'));
    return () => {
      listeners.delete(add);
      off();
    };
  }, []);
  return (
    <div class="toasts" aria-live="assertive">
      {toasts.map((t) => (
        <div class={`toast ${t.tone}`} role={t.tone === 'error' ? 'alert' : 'status'} key={t.id}>
          <span>{t.text}</span>
          <button type="button" onClick={() => setToasts((all) => all.filter((x) => x.id !== t.id))}>
            Dismiss<span class="visually-hidden"> this message</span>
          </button>
        </div>
      ))}
    </div>
  );
}
