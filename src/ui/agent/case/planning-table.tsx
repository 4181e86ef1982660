/**
 * The planning table: add one of the template's discretionary fragments, a checklist, or an
 * inline fragment (a JSON machine definition), with a reason.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client';
import type { CaseView } from '../types';
import type { CaseWrite } from './case-screen';

interface TemplateView {
  discretionaryFragments?: string[];
}

const templates = new Map<string, Promise<TemplateView>>();

export function PlanningTable({ view, write }: { view: CaseView; write: CaseWrite }) {
  const [offered, setOffered] = useState<string[]>([]);
  const [mode, setMode] = useState<'library' | 'checklist' | 'inline'>('library');
  const [ref, setRef] = useState('');
  const [title, setTitle] = useState('');
  const [steps, setSteps] = useState('');
  const [definition, setDefinition] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [done, setDone] = useState<string | undefined>();

  useEffect(() => {
    const key = `${view.template.key}@${view.template.version}`;
    if (!templates.has(key)) templates.set(key, api.get<TemplateView>(`/v1/templates/${encodeURIComponent(view.template.key)}`, { query: { version: view.template.version } }));
    templates.get(key)!.then((t) => {
      setOffered(t.discretionaryFragments ?? []);
      setRef((r) => r || (t.discretionaryFragments ?? [])[0] || '');
    }, () => setOffered([]));
  }, [view.template.key, view.template.version]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setErrors({});
    setDone(undefined);
    let body: Record<string, unknown>;
    if (mode === 'library') body = { ref };
    else if (mode === 'checklist') body = { checklist: { title, steps: steps.split('\n').map((s) => s.trim()).filter(Boolean) } };
    else {
      try {
        body = { definition: JSON.parse(definition) as unknown };
      } catch (err) {
        setErrors({ '/definition': `Not JSON: ${(err as Error).message}` });
        return;
      }
    }
    if (reason.trim()) body.reason = reason;
    try {
      if (await write((version) => api.post(`/v1/cases/${encodeURIComponent(view.id)}/fragments`, body, { ifMatch: version }))) {
        setDone('Added to the plan.');
        setReason('');
      }
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(err.fieldErrors());
        setError(err.message);
      } else setError(String(err));
    }
  };

  const err = (ptr: string) =>
    Object.entries(errors)
      .filter(([p]) => p === ptr || p.startsWith(`${ptr}/`))
      .map(([, d]) => d)
      .join('; ');
  return (
    <section class="panel planning" aria-labelledby="planning-title">
      <h2 id="planning-title">Planning table</h2>
      <form onSubmit={submit} class="form-grid" noValidate>
        <fieldset>
          <legend>Add</legend>
          {(
            [
              ['library', 'A fragment this case type offers'],
              ['checklist', 'A checklist'],
              ['inline', 'An inline fragment (JSON)'],
            ] as const
          ).map(([m, label]) => (
            <label key={m} class="radio">
              <input type="radio" name="plan-mode" value={m} checked={mode === m} onChange={() => setMode(m)} /> {label}
            </label>
          ))}
        </fieldset>
        {mode === 'library' ? (
          <div class="field">
            <label for="plan-ref">Fragment</label>
            <select id="plan-ref" value={ref} onChange={(e) => setRef(e.currentTarget.value)} aria-invalid={err('/ref') ? 'true' : undefined}>
              {offered.length === 0 ? <option value="">This case type offers none</option> : null}
              {offered.map((r) => (
                <option value={r} key={r}>
                  {r}
                </option>
              ))}
            </select>
            {err('/ref') ? <p class="field-error">{err('/ref')}</p> : null}
          </div>
        ) : null}
        {mode === 'checklist' ? (
          <>
            <div class="field">
              <label for="plan-title">Checklist title</label>
              <input id="plan-title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} aria-invalid={err('/checklist/title') ? 'true' : undefined} />
              {err('/checklist/title') ? <p class="field-error">{err('/checklist/title')}</p> : null}
            </div>
            <div class="field">
              <label for="plan-steps">Steps (one per line)</label>
              <textarea id="plan-steps" rows={3} value={steps} onInput={(e) => setSteps(e.currentTarget.value)} aria-invalid={err('/checklist/steps') ? 'true' : undefined} />
              {err('/checklist/steps') ? <p class="field-error">{err('/checklist/steps')}</p> : null}
            </div>
          </>
        ) : null}
        {mode === 'inline' ? (
          <div class="field">
            <label for="plan-def">Definition: {'{ "title": …, "machine": { "id", "initial", "states" } }'}</label>
            <textarea id="plan-def" rows={6} value={definition} onInput={(e) => setDefinition(e.currentTarget.value)} aria-invalid={err('/definition') ? 'true' : undefined} />
            {err('/definition') ? <p class="field-error">{err('/definition')}</p> : null}
          </div>
        ) : null}
        <div class="field">
          <label for="plan-reason">Reason</label>
          <input id="plan-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </div>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        {done ? <p role="status">{done}</p> : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={mode === 'library' && !ref}>
            Add to plan
          </button>
        </div>
      </form>
    </section>
  );
}
