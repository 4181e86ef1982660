/**
 * The console's writes, each a dialog that needs a reason where the API does: move a deadline
 * (PATCH /v1/cases/:id/goals/:key), bulk reassign (POST /v1/cases/bulk-reassign), push work
 * (POST /v1/tasks/:id/assign). The server's problem is shown at the field it names.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Page } from '../api/client';
import { Dialog } from '../agent/case/dialog';
import type { AgentLoad, OpenGoal, OpenTask } from './types';

function useSubmit(onDone: (message: string) => void) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  async function run(fn: () => Promise<string>) {
    setBusy(true);
    setErrors({});
    setGeneral(undefined);
    try {
      onDone(await fn());
    } catch (e) {
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        setErrors(fields);
        if (Object.keys(fields).length === 0) setGeneral(e.problem.detail ?? e.message);
      } else setGeneral(String(e));
    } finally {
      setBusy(false);
    }
  }
  return { errors, general, busy, run };
}

/** `2031-03-03T08:00` in local time for a datetime-local input. */
function localInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function FieldError({ id, text }: { id: string; text: string | undefined }) {
  return text ? <p id={id} class="field-error">{text}</p> : null;
}

export function MoveDeadlineDialog({ goal, onClose, onDone }: { goal: OpenGoal; onClose: () => void; onDone: (m: string) => void }) {
  const [at, setAt] = useState(localInput(goal.deadline_at));
  const [reason, setReason] = useState('');
  const s = useSubmit(onDone);
  const submit = (e: Event) => {
    e.preventDefault();
    void s.run(async () => {
      await api.patch(`/v1/cases/${encodeURIComponent(goal.case_id)}/goals/${encodeURIComponent(goal.goal_key)}`, { deadline_at: new Date(at).toISOString(), reason });
      return `Deadline of "${goal.goal_title}" moved to ${new Date(at).toLocaleString()}`;
    });
  };
  return (
    <Dialog title="Move deadline" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <p>{goal.case_title} — {goal.goal_title}</p>
        <label for="md-at">New deadline</label>
        <input id="md-at" type="datetime-local" required value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} aria-describedby="md-at-err" />
        <FieldError id="md-at-err" text={s.errors['/deadline_at']} />
        <label for="md-reason">Reason (required, journaled)</label>
        <textarea id="md-reason" required value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} aria-describedby="md-reason-err" />
        <FieldError id="md-reason-err" text={s.errors['/reason']} />
        {s.general && <p class="error" role="alert">{s.general}</p>}
        <div class="row">
          <button type="submit" disabled={s.busy}>Move deadline</button>
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

export function BulkReassignDialog({ caseIds, agents, onClose, onDone }: { caseIds: string[]; agents: AgentLoad[]; onClose: () => void; onDone: (m: string) => void }) {
  const [owner, setOwner] = useState('');
  const [queue, setQueue] = useState('');
  const [reason, setReason] = useState('');
  const s = useSubmit(onDone);
  const submit = (e: Event) => {
    e.preventDefault();
    void s.run(async () => {
      const r = await api.post<{ reassigned: number; failed: number; items: { case_id: string; problem: { detail: string } | null }[] }>('/v1/cases/bulk-reassign', {
        case_ids: caseIds,
        ...(owner ? { owner_id: owner } : {}),
        ...(queue ? { queue } : {}),
        reason,
      });
      const failures = r.items.filter((i) => i.problem).map((i) => `${i.case_id}: ${i.problem!.detail}`);
      return `Reassigned ${r.reassigned} of ${caseIds.length} cases${failures.length ? `; not reassigned: ${failures.join('; ')}` : ''}`;
    });
  };
  return (
    <Dialog title="Reassign cases" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <p>{caseIds.length} case{caseIds.length === 1 ? '' : 's'} selected</p>
        <label for="br-owner">New owner</label>
        <select id="br-owner" value={owner} onChange={(e) => setOwner((e.target as HTMLSelectElement).value)} aria-describedby="br-owner-err">
          <option value="">(keep owner)</option>
          {agents.map((a) => <option key={a.user_id} value={a.user_id}>{a.display_name ?? a.user_id}</option>)}
        </select>
        <FieldError id="br-owner-err" text={s.errors['/owner_id']} />
        <label for="br-queue">New queue</label>
        <input id="br-queue" value={queue} onInput={(e) => setQueue((e.target as HTMLInputElement).value.trim())} aria-describedby="br-queue-err" />
        <FieldError id="br-queue-err" text={s.errors['/queue']} />
        <label for="br-reason">Reason (required, journaled on every case)</label>
        <textarea id="br-reason" required value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} aria-describedby="br-reason-err" />
        <FieldError id="br-reason-err" text={s.errors['/reason']} />
        {s.general && <p class="error" role="alert">{s.general}</p>}
        <div class="row">
          <button type="submit" disabled={s.busy}>Reassign</button>
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

export function PushWorkDialog({ agent, onClose, onDone }: { agent: AgentLoad; onClose: () => void; onDone: (m: string) => void }) {
  const [tasks, setTasks] = useState<OpenTask[] | undefined>();
  const [taskId, setTaskId] = useState('');
  const [override, setOverride] = useState('');
  const s = useSubmit(onDone);
  useEffect(() => {
    // Unheld work of the agent's teams, soonest due first.
    void Promise.all(
      (agent.teams.length ? agent.teams : ['']).map((q) =>
        api.get<Page<OpenTask>>('/v1/tasks', { query: { status: 'open', limit: 50, ...(q ? { queue: q } : {}) } }).then((p) => p.items),
      ),
    ).then((lists) => {
      const unheld = lists.flat().filter((t) => t.assignee_id === null);
      setTasks(unheld);
      if (unheld[0]) setTaskId(unheld[0].id);
    }, () => setTasks([]));
  }, [agent.user_id]);
  const submit = (e: Event) => {
    e.preventDefault();
    void s.run(async () => {
      await api.post(`/v1/tasks/${encodeURIComponent(taskId)}/assign`, { user_id: agent.user_id, ...(override ? { override_capacity: { reason: override } } : {}) });
      return `Task pushed to ${agent.display_name ?? agent.user_id}`;
    });
  };
  const full = agent.units_capacity !== null && agent.units_used >= agent.units_capacity;
  return (
    <Dialog title="Push work" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <p>To {agent.display_name ?? agent.user_id} ({agent.units_used} of {agent.units_capacity ?? '∞'} units used)</p>
        {tasks === undefined ? <p class="muted">Loading tasks…</p> : tasks.length === 0 ? <p>No unassigned open task in {agent.teams.join(', ') || 'any queue'}.</p> : (
          <>
            <label for="pw-task">Task</label>
            <select id="pw-task" value={taskId} onChange={(e) => setTaskId((e.target as HTMLSelectElement).value)}>
              {tasks.map((t) => <option key={t.id} value={t.id}>{t.title} ({t.queue ?? 'no queue'})</option>)}
            </select>
          </>
        )}
        {full && (
          <>
            <label for="pw-override">Over capacity: reason to override (journaled)</label>
            <input id="pw-override" value={override} onInput={(e) => setOverride((e.target as HTMLInputElement).value)} aria-describedby="pw-override-err" />
            <FieldError id="pw-override-err" text={s.errors['/override_capacity/reason']} />
          </>
        )}
        {s.general && <p class="error" role="alert">{s.general}</p>}
        <div class="row">
          <button type="submit" disabled={s.busy || !taskId}>Push</button>
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}
