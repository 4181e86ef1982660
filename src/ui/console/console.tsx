/**
 * The supervisor console: SLA tiles, the at-risk and breached goals by time to breach, deadlines
 * due soon, workload per queue and per agent, SLA attainment as a chart, reach alerts; bulk
 * reassign, move a deadline (reason), push work. Live: the stream's `tiles` events replace the
 * tile counts and refetch the lists; `list` events of the queues refetch the workload. Everything
 * goes through the public API (GET /v1/goals/summary, /v1/goals, /v1/goals/due, /v1/workload,
 * /v1/reports/sla-attainment, /v1/alerts/reach).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Page } from '../api/client';
import { Person } from '../api/people';
import { linkHandler, setQuery, type RouteProps } from '../router';
import { debounce, useLive } from '../live/use-live';
import { AttainmentChart } from './attainment-chart';
import { BulkReassignDialog, MoveDeadlineDialog, PushWorkDialog } from './console-dialogs';
import type { AgentLoad, AttainmentReport, OpenGoal, ReachAlert, SlaState, Tiles, Workload } from './types';
import './console.css';

const SLA: Record<SlaState, { text: string; tone: 'ok' | 'warn' | 'bad' }> = {
  on_track: { text: 'On track', tone: 'ok' },
  at_risk: { text: 'At risk', tone: 'warn' },
  breached: { text: 'Breached', tone: 'bad' },
};

const DAY = 86_400_000;

function untilText(iso: string, now: number): string {
  const ms = new Date(iso).getTime() - now;
  const m = Math.round(Math.abs(ms) / 60_000);
  const t = m < 60 ? `${m} min` : m < 2880 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`;
  return ms >= 0 ? `breaches in ${t}` : `breached ${t} ago`;
}

function ageText(seconds: number | null): string {
  if (seconds === null) return '—';
  const m = Math.round(seconds / 60);
  return m < 60 ? `${m} min` : m < 2880 ? `${Math.floor(m / 60)} h` : `${Math.floor(m / 1440)} d`;
}

function SlaBadge({ sla }: { sla: SlaState | null }) {
  const s = SLA[sla ?? 'on_track'];
  return <span class={`badge ${s.tone}`}>{s.text}</span>;
}

function useLoader<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, string | undefined, () => void] {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(() => {
    load().then(
      (d) => {
        setData(d);
        setError(undefined);
      },
      (e) => setError(e instanceof ApiError ? e.problem.detail ?? e.message : String(e)),
    );
  }, deps);
  useEffect(run, [run]);
  return [data, error, run];
}

export function Console({ query }: RouteProps) {
  const queue = query.get('queue') ?? '';
  const groupBy = query.get('group_by') === 'queue' ? 'queue' : 'template';
  const days = Math.min(366, Math.max(1, Number(query.get('days') ?? 30) || 30));
  const [now, setNow] = useState(Date.now());
  const [notice, setNotice] = useState<string | undefined>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [moving, setMoving] = useState<OpenGoal | undefined>();
  const [pushing, setPushing] = useState<AgentLoad | undefined>();
  const [bulk, setBulk] = useState(false);
  const filter = queue ? { queue } : {};

  const [tiles, tilesError, reloadTiles] = useLoader(() => api.get<Tiles>('/v1/goals/summary', { query: filter }), [queue]);
  const [liveTiles, setLiveTiles] = useState<Tiles | undefined>();
  const [atRisk, atRiskError, reloadAtRisk] = useLoader(
    // Repeated `sla` parameters: the client's query helper writes one value per key.
    () => api.get<Page<OpenGoal>>('/v1/goals?sla=at_risk&sla=breached', { query: { ...filter, limit: 50 } }),
    [queue],
  );
  const [due, dueError, reloadDue] = useLoader(() => api.get<Page<OpenGoal>>('/v1/goals/due', { query: { ...filter, within_hours: 24, limit: 25 } }), [queue]);
  const [load, loadError, reloadLoad] = useLoader(() => api.get<Workload>('/v1/workload'), []);
  const [report, reportError] = useLoader(
    () =>
      api.get<AttainmentReport>('/v1/reports/sla-attainment', {
        query: { from: new Date(Date.now() - days * DAY).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), group_by: groupBy, ...filter },
      }),
    [queue, groupBy, days],
  );
  const [alerts] = useLoader(() => api.get<{ items: ReachAlert[] }>('/v1/alerts/reach', { query: { ...filter, since_hours: 24 } }), [queue]);

  const refetchLists = useMemo(() => debounce(() => {
    reloadAtRisk();
    reloadDue();
    reloadLoad();
  }, 300), [reloadAtRisk, reloadDue, reloadLoad]);
  useLive({ tiles: true, lists: ['queues'] }, (e) => {
    if (e.type === 'tiles' || (e.type === 'snapshot' && e.data.tiles)) {
      const t = (e.type === 'tiles' ? e.data : e.data.tiles) as unknown as Tiles;
      setLiveTiles(t);
      refetchLists();
    } else if (e.type === 'list' || e.type === 'case') refetchLists();
  });
  // Countdowns move without a request.
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 30_000);
    return () => window.clearInterval(id);
  }, []);

  const refreshAll = () => {
    reloadTiles();
    setLiveTiles(undefined);
    refetchLists();
  };
  const done = (message: string) => {
    setMoving(undefined);
    setPushing(undefined);
    setBulk(false);
    setSelected(new Set());
    setNotice(message);
    refreshAll();
  };

  // The stream's tiles count every queue; with a queue filter, that queue's own counts.
  const shown: Tiles | undefined = liveTiles
    ? queue
      ? { ...(liveTiles.by_queue[queue] ?? { on_track: 0, at_risk: 0, breached: 0 }), by_queue: {}, next_breach_at: tiles?.next_breach_at ?? null }
      : { ...liveTiles, next_breach_at: tiles?.next_breach_at ?? null }
    : tiles;
  const queues = load?.queues.map((q) => q.queue) ?? [];
  const selectedCases = [...selected];
  const toggle = (caseId: string) => {
    const next = new Set(selected);
    if (next.has(caseId)) next.delete(caseId);
    else next.add(caseId);
    setSelected(next);
  };

  return (
    <main class="console" id="main" aria-labelledby="console-title">
      <header class="console-head">
        <h1 id="console-title">Supervisor console</h1>
        <label for="console-queue">Queue</label>
        <select id="console-queue" value={queue} onChange={(e) => setQuery({ queue: (e.target as HTMLSelectElement).value })}>
          <option value="">All queues</option>
          {queues.map((q) => <option key={q} value={q}>{q}</option>)}
        </select>
        <button type="button" onClick={refreshAll}>Refresh</button>
      </header>

      <section aria-labelledby="tiles-title">
        <h2 id="tiles-title">SLA now</h2>
        {tilesError && <p class="error" role="alert">{tilesError}</p>}
        <ul class="tiles" aria-live="polite" data-testid="tiles">
          {(['on_track', 'at_risk', 'breached'] as const).map((k) => (
            <li key={k} class={`tile ${SLA[k].tone}`} data-tile={k}>
              <span class="tile-count">{shown ? shown[k] : '…'}</span>
              <span class="tile-label">{SLA[k].text}</span>
            </li>
          ))}
        </ul>
        {shown?.next_breach_at && <p class="muted">Next deadline: {new Date(shown.next_breach_at).toLocaleString()} ({untilText(shown.next_breach_at, now)})</p>}
      </section>

      <section aria-labelledby="risk-title">
        <div class="section-head">
          <h2 id="risk-title">At risk and breached, by time to breach</h2>
          <button type="button" class="primary" disabled={selected.size === 0} onClick={() => setBulk(true)}
            title={selected.size === 0 ? 'Select cases in the list first' : undefined}>
            Reassign {selected.size || ''} selected
          </button>
        </div>
        {atRiskError && <p class="error" role="alert">{atRiskError}</p>}
        <GoalTable goals={atRisk?.items} now={now} selected={selected} onToggle={toggle} onMove={setMoving} empty="Nothing at risk or breached." testId="at-risk" />
      </section>

      <section aria-labelledby="due-title">
        <h2 id="due-title">Due in the next 24 hours</h2>
        {dueError && <p class="error" role="alert">{dueError}</p>}
        <GoalTable goals={due?.items} now={now} onMove={setMoving} empty="No deadline in the next 24 hours." testId="due-soon" />
      </section>

      <div class="two-col">
        <section aria-labelledby="queues-title">
          <h2 id="queues-title">Queues</h2>
          {loadError && <p class="error" role="alert">{loadError}</p>}
          <table class="data" data-testid="queues">
            <thead><tr><th scope="col">Queue</th><th scope="col">Backlog</th><th scope="col">Unassigned</th><th scope="col">Oldest</th><th scope="col">Oldest unassigned</th><th scope="col">At risk</th><th scope="col">Agents available</th></tr></thead>
            <tbody>
              {(load?.queues ?? []).filter((q) => !queue || q.queue === queue).map((q) => (
                <tr key={q.queue}>
                  <th scope="row"><a href={`/console?queue=${encodeURIComponent(q.queue)}`} onClick={linkHandler(`/console?queue=${encodeURIComponent(q.queue)}`)}>{q.queue}</a></th>
                  <td>{q.backlog}</td><td>{q.unassigned}</td><td>{ageText(q.oldest_task_age_seconds)}</td><td>{ageText(q.oldest_unassigned_age_seconds)}</td>
                  <td>{q.tasks_at_risk > 0 ? <span class="badge warn">{q.tasks_at_risk} at risk</span> : '0'}</td><td>{q.agents_available}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>

        <section aria-labelledby="agents-title">
          <h2 id="agents-title">Agents</h2>
          <table class="data" data-testid="agents">
            <thead><tr><th scope="col">Agent</th><th scope="col">Presence</th><th scope="col">Units used</th><th scope="col">Open tasks</th><th scope="col">At risk</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {(load?.agents ?? []).filter((a) => !queue || a.teams.includes(queue)).map((a) => {
                const full = a.units_capacity !== null && a.units_used >= a.units_capacity;
                return (
                  <tr key={a.user_id}>
                    <th scope="row">{a.display_name ?? a.user_id}<div class="muted small">{a.teams.join(', ') || 'no team'}</div></th>
                    <td><span class={`badge ${a.presence === 'available' ? 'ok' : 'plain'}`}>{a.presence ?? 'unknown'}</span></td>
                    <td>
                      <span class={full ? 'badge warn' : ''}>{a.units_used} of {a.units_capacity ?? '∞'}{full ? ' (full)' : ''}</span>
                    </td>
                    <td>{a.open_tasks}</td>
                    <td>{a.tasks_breached > 0 ? <span class="badge bad">{a.tasks_breached} breached</span> : a.tasks_at_risk > 0 ? <span class="badge warn">{a.tasks_at_risk} at risk</span> : '0'}</td>
                    <td><button type="button" onClick={() => setPushing(a)}>Push work<span class="visually-hidden"> to {a.display_name ?? a.user_id}</span></button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      </div>

      <section aria-labelledby="attain-title">
        <div class="section-head">
          <h2 id="attain-title">SLA attainment, last {days} days, by {groupBy}</h2>
          <div class="row">
            <label for="attain-group">Group by</label>
            <select id="attain-group" value={groupBy} onChange={(e) => setQuery({ group_by: (e.target as HTMLSelectElement).value })}>
              <option value="template">template</option>
              <option value="queue">queue</option>
            </select>
            <label for="attain-days">Period</label>
            <select id="attain-days" value={String(days)} onChange={(e) => setQuery({ days: (e.target as HTMLSelectElement).value })}>
              <option value="7">7 days</option>
              <option value="30">30 days</option>
              <option value="90">90 days</option>
            </select>
          </div>
        </div>
        {reportError && <p class="error" role="alert">{reportError}</p>}
        {report && <AttainmentChart groups={report.groups} title={`SLA attainment by ${groupBy}`} />}
      </section>

      <section aria-labelledby="alerts-title">
        <h2 id="alerts-title">Reach alerts, last 24 hours</h2>
        {alerts && alerts.items.length === 0 && <p class="muted">No post crossed a reach or virality threshold.</p>}
        <ul class="alerts">
          {alerts?.items.map((a) => (
            <li key={`${a.case_id}-${a.at}`}>
              <span class="badge bad">{a.metric === 'reach' ? 'Reach' : 'Virality'} {Math.round(a.value).toLocaleString()} ≥ {a.limit.toLocaleString()}</span>{' '}
              <a href={`/cases/${a.case_id}`} onClick={linkHandler(`/cases/${a.case_id}`)}>{a.case_title}</a> <span class="muted">{a.queue ?? ''} · {new Date(a.at).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      </section>

      {moving && <MoveDeadlineDialog goal={moving} onClose={() => setMoving(undefined)} onDone={done} />}
      {pushing && <PushWorkDialog agent={pushing} onClose={() => setPushing(undefined)} onDone={done} />}
      {bulk && <BulkReassignDialog caseIds={selectedCases} agents={load?.agents ?? []} onClose={() => setBulk(false)} onDone={done} />}
      {notice && <p class="toast" role="status">{notice} <button type="button" onClick={() => setNotice(undefined)}>Dismiss</button></p>}
    </main>
  );
}

function GoalTable(props: {
  goals: OpenGoal[] | undefined;
  now: number;
  selected?: Set<string>;
  onToggle?: (caseId: string) => void;
  onMove: (g: OpenGoal) => void;
  empty: string;
  testId: string;
}) {
  const { goals, now, selected, onToggle, onMove, empty, testId } = props;
  const firstRef = useRef<HTMLTableSectionElement>(null);
  if (goals === undefined) return <p class="muted">Loading…</p>;
  if (goals.length === 0) return <p class="muted" data-testid={`${testId}-empty`}>{empty}</p>;
  return (
    <table class="data" data-testid={testId}>
      <thead>
        <tr>
          {onToggle && <th scope="col"><span class="visually-hidden">Select</span></th>}
          <th scope="col">Case</th><th scope="col">Goal</th><th scope="col">SLA</th><th scope="col">Deadline</th><th scope="col">Queue</th><th scope="col">Owner</th><th scope="col">Priority</th><th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody ref={firstRef}>
        {goals.map((g) => (
          <tr key={`${g.case_id}/${g.goal_key}`} data-case={g.case_id}>
            {onToggle && (
              <td><input type="checkbox" checked={selected?.has(g.case_id)} onChange={() => onToggle(g.case_id)} aria-label={`Select ${g.case_title}`} /></td>
            )}
            <td><a href={`/cases/${g.case_id}`} onClick={linkHandler(`/cases/${g.case_id}`)}>{g.case_title}</a></td>
            <td>{g.goal_title}</td>
            <td><SlaBadge sla={g.sla} /></td>
            <td><time dateTime={g.deadline_at}>{new Date(g.deadline_at).toLocaleString()}</time><div class="small">{untilText(g.deadline_at, now)}</div></td>
            <td>{g.queue ?? '—'}</td>
            <td>{g.owner_id ? <Person id={g.owner_id} /> : <span class="muted">unassigned</span>}</td>
            <td>{g.priority}</td>
            <td><button type="button" onClick={() => onMove(g)}>Move deadline<span class="visually-hidden"> of {g.goal_title} on {g.case_title}</span></button></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
