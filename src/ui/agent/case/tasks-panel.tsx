/** The case's open tasks: claim, and complete through the task's form (server errors at the field). */
import { useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client';
import { useSession } from '../../shell/session-context';
import { Person } from '../../api/people';
import type { CaseView, TaskView } from '../types';
import type { CaseWrite } from './case-screen';
import { formErrors, SchemaFields, toOutput, useFocusFirstInvalid, type FormValues } from './schema-form';

export function TasksPanel({ view, write, focusTask }: { view: CaseView; write: CaseWrite; focusTask: string | undefined }) {
  const open = view.tasks.filter((t) => t.status === 'open');
  return (
    <section class="panel tasks" aria-labelledby="tasks-title">
      <h2 id="tasks-title">Open tasks</h2>
      {open.length === 0 ? <p class="muted">No open tasks.</p> : null}
      {open.map((t) => (
        <TaskItem key={t.id} task={t} write={write} focused={t.id === focusTask} />
      ))}
    </section>
  );
}

function TaskItem({ task, write, focused }: { task: TaskView; write: CaseWrite; focused: boolean }) {
  const { user } = useSession();
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [other, setOther] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstInvalid(formRef, errors);
  const mine = task.assignee_id === user.id || task.claimed_by === user.id;

  const run = async (fn: (version: number) => Promise<unknown>, ok: string) => {
    setBusy(true);
    setOther([]);
    try {
      const applied = await write(fn);
      if (applied) {
        setErrors({});
        setDone(ok);
      }
    } catch (e) {
      if (e instanceof ApiError) {
        const { fields, other: rest } = formErrors(e.fieldErrors());
        setErrors(fields);
        setOther(Object.keys(fields).length || rest.length ? rest : [e.message]);
        if (!Object.keys(fields).length && !rest.length) setOther([e.message]);
      } else setOther([String(e)]);
    } finally {
      setBusy(false);
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const output = task.form ? toOutput(task.form, values) : {};
    void run((version) => api.post(`/v1/tasks/${encodeURIComponent(task.id)}/complete`, { output }, { ifMatch: version }), 'Task completed.');
  };

  const headingId = `task-${task.id}-title`;
  return (
    <form class="task" ref={formRef} onSubmit={submit} aria-labelledby={headingId} noValidate data-task={task.id}>
      <h3 id={headingId} tabIndex={-1} autoFocus={focused}>
        {task.title}
      </h3>
      <p class="muted">
        {task.assignee_id ? (
          <>
            assigned to <Person id={task.assignee_id} you={user.id} />
          </>
        ) : (
          `in queue ${task.work_queue ?? '—'}`
        )}
        {task.due_at ? ` · due ${new Date(task.due_at).toLocaleString()}` : ''}
      </p>
      {task.form ? <SchemaFields schema={task.form} idPrefix={`t-${task.id}`} values={values} onChange={setValues} errors={errors} /> : null}
      {other.length ? (
        <div class="error" role="alert">
          {other.map((m, i) => (
            <p key={i}>{m}</p>
          ))}
        </div>
      ) : Object.keys(errors).length ? (
        <p class="error" role="alert">
          Fix the fields marked above; nothing was saved.
        </p>
      ) : null}
      {done ? <p role="status">{done}</p> : null}
      <div class="actions">
        {!mine ? (
          <button type="button" disabled={busy} onClick={() => void run((version) => api.post(`/v1/tasks/${encodeURIComponent(task.id)}/claim`, {}, { ifMatch: version }), 'Task claimed.')}>
            Claim
          </button>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          Complete task
        </button>
      </div>
    </form>
  );
}
