/** `useLive(subs, onEvent)`: watch while the component is mounted; re-watch when `subs` change. */
import { useEffect, useRef } from 'preact/hooks';
import { watch, type LiveEvent, type Subscriptions } from './live-client';

export function useLive(subs: Subscriptions | undefined, onEvent: (e: LiveEvent) => void): void {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = subs ? JSON.stringify(subs) : '';
  useEffect(() => {
    if (!subs) return;
    return watch(subs, (e) => handler.current(e));
    // key captures subs by value
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
}

/** Calls `fn` at most once per `ms` burst (list events say "refetch", debounce them). */
export function debounce(fn: () => void, ms: number): () => void {
  let t: number | undefined;
  return () => {
    window.clearTimeout(t);
    t = window.setTimeout(fn, ms);
  };
}
