/**
 * A small history-API router: screens register `{ path, view }` (see screens.ts), the URL is the
 * state (filters live in the query string, so a link or a reload shows the same screen).
 */
import { useEffect, useState } from 'preact/hooks';
import type { ComponentType } from 'preact';

export interface RouteProps {
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface Screen {
  /** `/cases/:id` style; `:name` segments become params. */
  path: string;
  view: ComponentType<RouteProps>;
  /** Shown in the top navigation when set. */
  nav?: { label: string; roles?: readonly string[]; shortcut?: string };
  /** Screens that work without a session (sign-in). */
  public?: boolean;
}

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
window.addEventListener('popstate', notify);

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

/** Replace some query parameters of the current URL (empty values are removed). */
export function setQuery(changes: Record<string, string | undefined>, options: { replace?: boolean } = { replace: true }): void {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  const s = params.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), options);
}

/** Re-renders the caller whenever the URL changes. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return undefined;
  }
  return params;
}

/** Links that navigate without a page load (and still open in a new tab on ctrl/middle click). */
export function linkHandler(to: string) {
  return (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
}
