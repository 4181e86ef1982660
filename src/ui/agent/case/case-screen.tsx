/**
 * The case screen: one GET for the case (with its customer summary and goal clocks), one for the
 * timeline, one for content, plus the live stream (case events, presence). Every write sends
 * If-Match with the version shown; a 412 says so and reloads — it never overwrites.
 */
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, request, type Page } from '../../api/client';
import { Person } from '../../api/people';
import type { RouteProps } from '../../router';
import { useSession } from '../../shell/session-context';
import { holdVersion } from '../../live/live-client';
import { debounce, useLive } from '../../live/use-live';
import type { CaseView, ContentItem, TimelineEntry } from '../types';
import { CaseHeader } from './case-header';
import { GoalsPanel } from './goals-panel';
import { FragmentsPanel } from './fragments-panel';
import { TasksPanel } from './tasks-panel';
import { PlanningTable } from './planning-table';
import { CaseActions } from './case-actions';
import { TimelinePanel } from './timeline-panel';
import { ContentPanel } from './content-panel';
import { CustomerPanel, HandoffBrief } from './customer-panel';
import '../agent.css';

/** What panels get to change the case: run a write, then show the case it answers. */
export interface CaseWrite {
  /** Runs `fn(version)`; a 412 reloads and shows why; other errors are rethrown to the caller. */
  (fn: (version: number) => Promise<unknown>): Promise<boolean>;
}

/** Pages of the timeline read on open (500 entries each: one request for most cases). */
const TIMELINE_PAGES = 10;
const TIMELINE_PAGE_SIZE = 500;

export function CaseScreen({ params, query }: RouteProps) {
  const id = params.id!;
  const { user } = useSession();
  const [view, setView] = useState<CaseView | undefined>();
  const [timeline, setTimeline] = useState<TimelineEntry[]>([]);
  const [content, setContent] = useState<ContentItem[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [stale, setStale] = useState<string | undefined>();
  const [viewers, setViewers] = useState<{ user_id: string; role: string }[]>([]);

  const loadCase = useCallback(async () => {
    try {
      const res = await request<CaseView>('GET', `/v1/cases/${encodeURIComponent(id)}`);
      setView(res.data);
      holdVersion(id, res.data.version);
      setError(undefined);
      return res.data;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      return undefined;
    }
  }, [id]);

  const loadTimeline = useCallback(async () => {
    const all: TimelineEntry[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < TIMELINE_PAGES; i++) {
      const page: Page<TimelineEntry> = (await request<Page<TimelineEntry>>('GET', `/v1/cases/${encodeURIComponent(id)}/timeline`, { query: { limit: TIMELINE_PAGE_SIZE, cursor } })).data;
      all.push(...page.items);
      cursor = page.next_cursor;
      // Each page is shown as it arrives: a long case is readable before its oldest entries load.
      setTimeline([...all]);
      if (!cursor) break;
    }
  }, [id]);

  const loadContent = useCallback(async () => {
    const page = (await request<Page<ContentItem>>('GET', `/v1/cases/${encodeURIComponent(id)}/content`, { query: { limit: 100 } })).data;
    setContent(page.items);
  }, [id]);

  const reloadAll = useCallback(async () => {
    await Promise.all([loadCase(), loadTimeline().catch(() => undefined), loadContent().catch(() => undefined)]);
  }, [loadCase, loadTimeline, loadContent]);

  useEffect(() => {
    setView(undefined);
    setTimeline([]);
    void reloadAll();
  }, [reloadAll]);

  const refetch = useMemo(() => debounce(() => void reloadAll(), 250), [reloadAll]);
  useLive({ cases: [id] }, (e) => {
    if (e.type === 'presence' && e.data.case_id === id) {
      setViewers(((e.data.viewers as { user_id: string; role: string }[]) ?? []).filter((v) => v.user_id !== user.id));
    } else if (e.type === 'case' && e.data.case_id === id) {
      const version = e.data.version ?? 0;
      if (view && version === view.version + 1) {
        // The next version: its journal entries come with the event; the case (goals,
        // fragments, accepted events) is one GET, content only when it changed.
        const entries = (e.data.entries as TimelineEntry[] | undefined) ?? [];
        // Never twice: a reload may have brought these entries already.
        setTimeline((t) => {
          const last = t.length ? t[t.length - 1]!.version : 0;
          return [...t, ...entries.filter((x) => x.version > last)];
        });
        void loadCase();
        if (entries.some((x) => x.type.startsWith('content.'))) void loadContent();
      } else if (!view || version > view.version) refetch();
    } else if (e.type === 'snapshot') {
      const head = ((e.data.cases as { case_id: string; version: number }[] | undefined) ?? []).find((c) => c.case_id === id);
      if (!view || !head || head.version !== view.version) refetch();
    }
  });

  const write: CaseWrite = useCallback(
    async (fn) => {
      if (!view) return false;
      try {
        await fn(view.version);
        setStale(undefined);
        await reloadAll();
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.stale) {
          setStale('Someone changed this case after you opened it, so your change was NOT applied. The case has been reloaded: check it and try again.');
          await reloadAll();
          return false;
        }
        throw e;
      }
    },
    [view, reloadAll],
  );

  if (error && !view)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!view) return <p aria-busy="true">Loading case…</p>;
  const focusTask = query.get('task') ?? undefined;

  return (
    <article class="case-screen" aria-labelledby="case-title">
      <div class="wide">
        <CaseHeader view={view} />
        <p class="viewers" aria-live="polite">
          {viewers.length ? (
            <>
              <span class="badge info">Also viewing</span>{' '}
              {viewers.map((v, i) => (
                <span key={v.user_id}>
                  {i > 0 ? ', ' : ''}
                  <Person id={v.user_id} /> ({v.role})
                </span>
              ))}
            </>
          ) : (
            <span class="muted">No one else is viewing this case.</span>
          )}
        </p>
        {stale ? (
          <p class="stale" role="alert">
            {stale}
          </p>
        ) : null}
        {view.handoff_brief ? <HandoffBrief brief={view.handoff_brief} /> : null}
      </div>
      <div>
        <GoalsPanel view={view} />
        <TasksPanel view={view} write={write} focusTask={focusTask} />
        <FragmentsPanel view={view} write={write} />
        <PlanningTable view={view} write={write} />
        <TimelinePanel entries={timeline} />
      </div>
      <div>
        <CaseActions view={view} write={write} />
        <CustomerPanel view={view} />
        <ContentPanel view={view} items={content} write={write} />
      </div>
    </article>
  );
}
