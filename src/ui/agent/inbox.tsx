/**
 * The inbox: my open tasks and my teams' queues, sorted by priority, then time to breach, then
 * age. Filters live in the URL (`?scope=mine&queue=billing&priority=high&q=refund`). Live: the
 * stream's `list` events (inbox, queues) refetch it. Keyboard: j/k move, Enter opens,
 * n gets next work, / focuses the search.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Page } from '../api/client';
import { linkHandler, navigate, setQuery, type RouteProps } from '../router';
import { useSession } from '../shell/session-context';
import { Person } from '../api/people';
import { registerShortcut } from '../shell/shortcuts';
import { debounce, useLive } from '../live/use-live';
import { relative, slaOf, SLA_TEXT, soonestDeadline } from './format';
import { PRIORITY_RANK, type CaseSummary, type Priority, type TaskView } from './types';
import './agent.css';

export interface InboxRow {
  task: TaskView;
  case: CaseSummary | undefined;
}

/** Tasks per page (the API's largest page); each page's cases are looked up by id. */
const TASK_PAGE = 100;

const NEXT_REASONS: Record<string, string> = {
  presence_away: 'Your presence is "away": set yourself available to get work.',
  presence_offline: 'Your presence is "offline": set yourself available to get work.',
  no_matching_task: 'Nothing fits you right now: no open task matches your teams, skills and free capacity.',
};

/** Priority (highest first), then soonest breach, then oldest task. */
export function sortRows(rows: InboxRow[]): InboxRow[] {
  const breach = (r: InboxRow) => {
    const g = r.case ? soonestDeadline(r.case.goals) : undefined;
    return g?.deadline_at ? new Date(g.deadline_at).getTime() : Number.POSITIVE_INFINITY;
  };
  return [...rows].sort(
    (a, b) =>
      PRIORITY_RANK[(b.case?.priority.value ?? 'normal') as Priority] - PRIORITY_RANK[(a.case?.priority.value ?? 'normal') as Priority] ||
      breach(a) - breach(b) ||
      a.task.opened_at.localeCompare(b.task.opened_at),
  );
}

export function Inbox({ query }: RouteProps) {
  const { user } = useSession();
  const scope = query.get('scope') ?? 'all';
  const queue = query.get('queue') ?? '';
  const priority = query.get('priority') ?? '';
  const text = query.get('q') ?? '';
  const [rows, setRows] = useState<InboxRow[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [selected, setSelected] = useState(0);
  const [busy, setBusy] = useState(false);
  const search = useRef<HTMLInputElement>(null);
  const tableRef = useRef<HTMLTableSectionElement>(null);

  /** How many pages of tasks are shown; "Show more" adds one, a refetch reloads them all. */
  const [pages, setPages] = useState(1);
  const [more, setMore] = useState(false);
  useEffect(() => setPages(1), [scope, queue]);

  const load = useCallback(async () => {
    try {
      const loaded: InboxRow[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < pages; i++) {
        const tasks: Page<TaskView> = await api.get<Page<TaskView>>('/v1/tasks', {
          query: { status: 'open', limit: TASK_PAGE, cursor, ...(scope === 'mine' ? { assignee_id: user.id } : {}), ...(queue ? { queue } : {}) },
        });
        // Exactly the cases of these tasks (one lookup), however many cases are open.
        const caseIds = [...new Set(tasks.items.map((t) => t.case_id))];
        const cases = caseIds.length ? await api.get<Page<CaseSummary>>('/v1/cases', { query: { ids: caseIds.join(',') } }) : { items: [] };
        const byId = new Map(cases.items.map((c) => [c.id, c]));
        loaded.push(...tasks.items.map((task) => ({ task, case: byId.get(task.case_id) })));
        cursor = tasks.next_cursor;
        if (!cursor) break;
      }
      setRows(loaded);
      setMore(cursor !== null);
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiError ? `The inbox could not be loaded: ${e.message}. It retries on the next change; reload the page to retry now.` : String(e));
    }
  }, [scope, queue, user.id, pages]);

  useEffect(() => {
    void load();
  }, [load]);

  const refetch = useMemo(() => debounce(() => void load(), 300), [load]);
  useLive({ lists: ['inbox', 'queues'] }, (e) => {
    if (e.type === 'list' || e.type === 'snapshot') refetch();
  });

  const shown = useMemo(() => {
    if (!rows) return [];
    const t = text.toLowerCase();
    return sortRows(rows).filter(
      (r) => (!priority || r.case?.priority.value === priority) && (!t || r.task.title.toLowerCase().includes(t) || (r.case?.title ?? '').toLowerCase().includes(t)),
    );
  }, [rows, priority, text]);

  const queues = useMemo(() => [...new Set([...(user.teams ?? []), ...(rows ?? []).map((r) => r.task.work_queue).filter((q): q is string => !!q)])].sort(), [rows, user.teams]);

  const getNext = useCallback(async () => {
    setBusy(true);
    setNotice(undefined);
    try {
      const next = await api.post<{ task: TaskView | null; reason: string | null }>('/v1/tasks/next', {});
      if (next.task) navigate(`/cases/${encodeURIComponent(next.task.case_id)}?task=${encodeURIComponent(next.task.id)}`);
      else setNotice(NEXT_REASONS[next.reason ?? ''] ?? 'Nothing to assign right now.');
    } catch (e) {
      setNotice(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    const offs = [
      registerShortcut('n', 'Get next work', () => void getNext()),
      registerShortcut('/', 'Search the inbox', () => search.current?.focus()),
      registerShortcut('j', 'Next row', () => focusRow(selected + 1)),
      registerShortcut('k', 'Previous row', () => focusRow(selected - 1)),
    ];
    return () => offs.forEach((o) => o());
  });

  const focusRow = (i: number) => {
    const links = tableRef.current?.querySelectorAll<HTMLAnchorElement>('a.open-case');
    if (!links || links.length === 0) return;
    const j = Math.max(0, Math.min(links.length - 1, i));
    setSelected(j);
    links[j]!.focus();
  };

  const now = useNow(30_000);
  return (
    <section class="inbox" aria-labelledby="inbox-title">
      <div class="toolbar">
        <h1 id="inbox-title">Inbox</h1>
        <button type="button" class="primary" onClick={() => void getNext()} disabled={busy} aria-keyshortcuts="n">
          Get next work <kbd>n</kbd>
        </button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label for="f-scope">Show</label>
        <select id="f-scope" value={scope} onChange={(e) => setQuery({ scope: e.currentTarget.value === 'all' ? undefined : e.currentTarget.value })}>
          <option value="all">My tasks and my teams' queues</option>
          <option value="mine">Only my tasks</option>
        </select>
        <label for="f-queue">Queue</label>
        <select id="f-queue" value={queue} onChange={(e) => setQuery({ queue: e.currentTarget.value })}>
          <option value="">Any queue</option>
          {queues.map((q) => (
            <option value={q} key={q}>
              {q}
            </option>
          ))}
        </select>
        <label for="f-priority">Priority</label>
        <select id="f-priority" value={priority} onChange={(e) => setQuery({ priority: e.currentTarget.value })}>
          <option value="">Any priority</option>
          {(['urgent', 'high', 'normal', 'low'] as const).map((p) => (
            <option value={p} key={p}>
              {p}
            </option>
          ))}
        </select>
        <label for="f-q">Search</label>
        <input id="f-q" ref={search} type="search" value={text} placeholder="title…" aria-keyshortcuts="/" onInput={(e) => setQuery({ q: e.currentTarget.value })} />
      </form>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {rows === undefined ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <table class="rows">
          <caption class="muted">
            {shown.length} open {shown.length === 1 ? 'task' : 'tasks'}
            {shown.length !== rows.length ? ` (filtered from ${rows.length} loaded)` : ''}
            {more ? `: the ${rows.length} due soonest of more; “Show more” loads the next ${TASK_PAGE}` : ''}, by priority, then time to breach. Keys: <kbd>j</kbd>/<kbd>k</kbd> move,{' '}
            <kbd>Enter</kbd> opens, <kbd>n</kbd> next work, <kbd>/</kbd> search, <kbd>?</kbd> all shortcuts.
          </caption>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Case</th>
              <th scope="col">Priority</th>
              <th scope="col">Time to breach</th>
              <th scope="col">Queue / assignee</th>
            </tr>
          </thead>
          <tbody ref={tableRef}>
            {shown.map((r, i) => {
              const goal = r.case ? soonestDeadline(r.case.goals) : undefined;
              const sla = goal ? slaOf(goal, now) : null;
              const to = `/cases/${encodeURIComponent(r.task.case_id)}?task=${encodeURIComponent(r.task.id)}`;
              return (
                <tr key={r.task.id} class={i === selected ? 'selected' : undefined}>
                  <td>
                    <a class="open-case" href={to} onClick={linkHandler(to)} onFocus={() => setSelected(i)}>
                      {r.task.title}
                    </a>
                  </td>
                  <td>{r.case?.title ?? r.task.case_id}</td>
                  <td>
                    <PriorityBadge value={(r.case?.priority.value ?? 'normal') as Priority} />
                  </td>
                  <td>
                    {goal && sla ? (
                      <>
                        <span class={`badge ${SLA_TEXT[sla].tone}`}>{SLA_TEXT[sla].text}</span> {relative(new Date(goal.deadline_at!).getTime() - now)}
                      </>
                    ) : (
                      <span class="muted">no deadline</span>
                    )}
                  </td>
                  <td>
                    {r.task.assignee_id === user.id ? <span class="badge info">mine</span> : r.task.assignee_id ? <Person id={r.task.assignee_id} /> : <span class="muted">unassigned</span>}{' '}
                    {r.task.work_queue ? <span class="muted">{r.task.work_queue}</span> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {more ? (
        <p>
          <button type="button" class="show-more" onClick={() => setPages((p) => p + 1)}>
            Show more tasks
          </button>
        </p>
      ) : null}
      {rows !== undefined && shown.length === 0 ? (
        <p class="empty" role="status">
          {rows.length === 0 ? 'Nothing open here.' : `None of the ${rows.length} loaded tasks match these filters.`} Use “Get next work”, or widen the filters.
        </p>
      ) : null}
    </section>
  );
}

/** The current time, re-rendering every `ms` (countdowns move without a reload). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

export function PriorityBadge({ value, title }: { value: Priority; title?: string }) {
  const tone = value === 'urgent' ? 'bad' : value === 'high' ? 'warn' : value === 'normal' ? 'plain' : 'plain';
  return (
    <span class={`badge ${tone} priority`} title={title}>
      {value}
    </span>
  );
}
