/**
 * Names for the user ids the screens show (owners, assignees, viewers, timeline actors), from the
 * public API: `GET /v1/users?ids=a,b` answers what the caller may see (agents: enabled
 * colleagues' directory cards). Ids asked for in the same tick go in one request; answers are
 * kept for the tab's life. An id with no answer (an integration, the system, a disabled user an
 * agent may not see) is shown as it is.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type Page } from './client';

export interface PersonCard {
  id: string;
  display_name: string;
  username: string;
  role: string;
}

const LOOKUP_BATCH = 200;
/** id -> card; null: asked, not found or not visible (shown as the id). */
const known = new Map<string, PersonCard | null>();
const wanted = new Set<string>();
const listeners = new Set<() => void>();
let scheduled = false;

async function lookUp(): Promise<void> {
  scheduled = false;
  const ids = [...wanted];
  wanted.clear();
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
    const batch = ids.slice(i, i + LOOKUP_BATCH);
    try {
      const page = await api.get<Page<PersonCard>>('/v1/users', { query: { ids: batch.join(',') } });
      for (const id of batch) known.set(id, null);
      for (const card of page.items) known.set(card.id, card);
    } catch {
      // No names (e.g. the caller is not a person): ids stay as they are.
      for (const id of batch) known.set(id, null);
    }
  }
  listeners.forEach((l) => l());
}

function want(ids: readonly string[]): void {
  for (const id of ids) if (id && !known.has(id) && !id.includes(',')) wanted.add(id);
  if (wanted.size > 0 && !scheduled) {
    scheduled = true;
    queueMicrotask(() => void lookUp());
  }
}

/** The display name of `id` if it was looked up, else the id itself. */
export function nameOf(id: string): string {
  return known.get(id)?.display_name ?? id;
}

/** Re-renders the caller once names for these ids arrive; returns `nameOf`. */
export function usePeople(ids: readonly (string | null | undefined)[]): (id: string) => string {
  const [, setTick] = useState(0);
  const key = [...new Set(ids.filter((x): x is string => !!x))].sort().join(',');
  useEffect(() => {
    const listener = () => setTick((t) => t + 1);
    listeners.add(listener);
    want(key ? key.split(',') : []);
    return () => void listeners.delete(listener);
  }, [key]);
  return nameOf;
}

/** A person by name, the id on hover (and for screen readers after the name, when they differ). */
export function Person({ id, you }: { id: string; you?: string | undefined }) {
  usePeople([id]);
  if (you && id === you) return <span title={id}>you</span>;
  const name = nameOf(id);
  return <span class="person" title={name === id ? undefined : id}>{name}</span>;
}
