/**
 * Global keyboard shortcuts (documented in the UI-SCAFFOLD notes and on the inbox): `g i` inbox,
 * `/` focus the filter, `n` get next work, `?` the shortcut list. Screens register their own with
 * `registerShortcut`; keys typed into a field are never taken.
 */
import { navigate } from '../router';

type Handler = () => void;
const bindings = new Map<string, { handler: Handler; label: string }>();

export function registerShortcut(keys: string, label: string, handler: Handler): () => void {
  bindings.set(keys, { handler, label });
  return () => {
    if (bindings.get(keys)?.handler === handler) bindings.delete(keys);
  };
}

export function shortcutList(): { keys: string; label: string }[] {
  return [...bindings].map(([keys, b]) => ({ keys, label: b.label }));
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

export function installShortcuts(): () => void {
  registerShortcut('g i', 'Go to the inbox', () => navigate('/inbox'));
  let pending = '';
  let timer: number | undefined;
  const onKey = (e: KeyboardEvent) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const key = pending ? `${pending} ${e.key}` : e.key;
    const b = bindings.get(key);
    if (b) {
      e.preventDefault();
      pending = '';
      b.handler();
      return;
    }
    if ([...bindings.keys()].some((k) => k.startsWith(`${key} `))) {
      pending = key;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => (pending = ''), 1200);
    } else pending = '';
  };
  window.addEventListener('keydown', onKey);
  return () => window.removeEventListener('keydown', onKey);
}
