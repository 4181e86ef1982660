/** The case's fragments: each a diagram with its state, the events it accepts now, and adapt actions. */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client';
import type { CaseView, FragmentView } from '../types';
import type { CaseWrite } from './case-screen';
import { FragmentDiagram } from './fragment-diagram';
import { AdaptDialog, type AdaptAction } from './adapt-dialog';

export function FragmentsPanel({ view, write }: { view: CaseView; write: CaseWrite }) {
  const [error, setError] = useState<string | undefined>();
  const [adapt, setAdapt] = useState<{ fragment: FragmentView; action: AdaptAction } | undefined>();
  const send = async (type: string, fragmentId: string) => {
    setError(undefined);
    try {
      await write((version) => api.post(`/v1/cases/${encodeURIComponent(view.id)}/events`, { type, fragment_id: fragmentId }, { ifMatch: version }));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  const shown = view.fragments.filter((f) => f.status === 'active').concat(view.fragments.filter((f) => f.status !== 'active'));
  return (
    <section class="panel fragments" aria-labelledby="fragments-title">
      <h2 id="fragments-title">Plan</h2>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {shown.map((f) => (
        <div class="fragment" key={f.id} data-fragment-id={f.id}>
          <h3>
            {f.title} <span class={`badge ${f.status === 'active' ? 'info' : 'plain'}`}>{f.status}</span>{' '}
            <span class="muted">{f.definition.startsWith('inline:') ? 'ad hoc' : f.definition}</span>
          </h3>
          <FragmentDiagram caseId={view.id} fragment={f} />
          {f.status === 'active' ? (
            <div class="actions" aria-label={`Events ${f.title} accepts now`}>
              {f.accepted_events.map((ev) => (
                <button type="button" key={ev} onClick={() => void send(ev, f.id)}>
                  {ev}
                </button>
              ))}
              <span class="muted">Adapt:</span>
              {(['migrate', 'jump', 'cancel', 'reassign'] as const).map((a) => (
                <button type="button" key={a} onClick={() => setAdapt({ fragment: f, action: a })}>
                  {a}
                </button>
              ))}
            </div>
          ) : null}
        </div>
      ))}
      {adapt ? <AdaptDialog view={view} fragment={adapt.fragment} action={adapt.action} write={write} onClose={() => setAdapt(undefined)} /> : null}
    </section>
  );
}
