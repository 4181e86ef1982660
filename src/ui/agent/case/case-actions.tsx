/** Hold / resume / close / reassign the case, each asking for its reason. */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client';
import type { CaseView } from '../types';
import type { CaseWrite } from './case-screen';
import { Dialog } from './dialog';

type Kind = 'hold' | 'resume' | 'close' | 'reassign';

export function CaseActions({ view, write }: { view: CaseView; write: CaseWrite }) {
  const [open, setOpen] = useState<Kind | undefined>();
  const closed = view.status === 'closed' || view.status === 'cancelled';
  return (
    <section class="panel" aria-labelledby="actions-title">
      <h2 id="actions-title">Case actions</h2>
      <div class="actions">
        {view.status === 'on_hold' ? (
          <button type="button" onClick={() => setOpen('resume')}>
            Resume
          </button>
        ) : (
          <button type="button" disabled={closed} onClick={() => setOpen('hold')}>
            Hold
          </button>
        )}
        <button type="button" disabled={closed} onClick={() => setOpen('reassign')}>
          Reassign
        </button>
        <button type="button" class="danger" disabled={closed} onClick={() => setOpen('close')}>
          Close
        </button>
      </div>
      {closed ? <p class="muted">The case is {view.status}{view.close_reason ? `: ${view.close_reason}` : ''}.</p> : null}
      {open ? <ActionDialog kind={open} view={view} write={write} onClose={() => setOpen(undefined)} /> : null}
    </section>
  );
}

function ActionDialog({ kind, view, write, onClose }: { kind: Kind; view: CaseView; write: CaseWrite; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [status, setStatus] = useState<'closed' | 'cancelled'>('closed');
  const [owner, setOwner] = useState('');
  const [queue, setQueue] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [fieldErr, setFieldErr] = useState<Record<string, string>>({});
  const needsReason = kind === 'hold' || kind === 'close';
  const submit = async (e: Event) => {
    e.preventDefault();
    if (needsReason && !reason.trim()) {
      setFieldErr({ '/reason': 'A reason is required (it is journaled and shown on the timeline).' });
      return;
    }
    const base = `/v1/cases/${encodeURIComponent(view.id)}`;
    const r = reason.trim() ? { reason } : {};
    const body =
      kind === 'close' ? { ...r, status } : kind === 'reassign' ? { ...(owner ? { owner_id: owner } : {}), ...(queue ? { queue } : {}), ...r } : r;
    try {
      await write((version) => api.post(`${base}/${kind}`, body, { ifMatch: version }));
      onClose();
    } catch (err) {
      if (err instanceof ApiError) {
        setFieldErr(err.fieldErrors());
        setError(err.message);
      } else setError(String(err));
    }
  };
  const title = { hold: 'Put the case on hold', resume: 'Resume the case', close: 'Close the case', reassign: 'Reassign the case' }[kind];
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} class="form-grid" noValidate>
        {kind === 'close' ? (
          <div class="field">
            <label for="ca-status">Outcome</label>
            <select id="ca-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as 'closed' | 'cancelled')}>
              <option value="closed">Closed (done)</option>
              <option value="cancelled">Cancelled</option>
            </select>
          </div>
        ) : null}
        {kind === 'reassign' ? (
          <>
            <div class="field">
              <label for="ca-owner">New owner (user id)</label>
              <input id="ca-owner" value={owner} onInput={(e) => setOwner(e.currentTarget.value)} />
            </div>
            <div class="field">
              <label for="ca-queue">Queue</label>
              <input id="ca-queue" value={queue} onInput={(e) => setQueue(e.currentTarget.value)} />
            </div>
          </>
        ) : null}
        <div class="field">
          <label for="ca-reason">Reason{needsReason ? ' (required)' : ''}</label>
          <textarea id="ca-reason" rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} aria-invalid={fieldErr['/reason'] ? 'true' : undefined} aria-describedby={fieldErr['/reason'] ? 'ca-reason-error' : undefined} />
          {fieldErr['/reason'] ? (
            <p class="field-error" id="ca-reason-error">
              {fieldErr['/reason']}
            </p>
          ) : null}
        </div>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" class="primary">
            {title.split(' ')[0]}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
