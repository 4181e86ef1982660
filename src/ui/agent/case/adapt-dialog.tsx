/**
 * Adapt a running fragment: migrate (the dry run is shown first, then applied), jump, cancel,
 * reassign. A reason is required (the server refuses without one; the field says so too).
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api/client';
import type { CaseView, FragmentView } from '../types';
import type { CaseWrite } from './case-screen';
import { Dialog } from './dialog';

export type AdaptAction = 'migrate' | 'jump' | 'cancel' | 'reassign';

export function AdaptDialog({ view, fragment, action, write, onClose }: { view: CaseView; fragment: FragmentView; action: AdaptAction; write: CaseWrite; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [to, setTo] = useState(fragment.definition.replace(/@(\d+)$/, (_, v: string) => `@${Number(v) + 1}`));
  const [mapping, setMapping] = useState('');
  const [state, setState] = useState('');
  const [userId, setUserId] = useState('');
  const [queue, setQueue] = useState('');
  const [preview, setPreview] = useState<unknown>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const url = `/v1/cases/${encodeURIComponent(view.id)}/fragments/${encodeURIComponent(fragment.id)}/adapt`;

  const body = (): Record<string, unknown> | undefined => {
    if (!reason.trim() && action !== 'reassign') {
      setErrors({ '/reason': 'A reason is required: say why the plan changes (it is journaled).' });
      return undefined;
    }
    const r = reason.trim() ? { reason } : {};
    switch (action) {
      case 'migrate': {
        let state_mapping: Record<string, string> | undefined;
        if (mapping.trim()) {
          state_mapping = {};
          for (const line of mapping.split('\n')) {
            const [from, target] = line.split(/\s*(?:->|=)\s*/);
            if (from && target) state_mapping[from.trim()] = target.trim();
          }
        }
        return { action, to, ...(state_mapping ? { state_mapping } : {}), ...r };
      }
      case 'jump':
        return { action, state, ...r };
      case 'cancel':
        return { action, ...r };
      case 'reassign':
        return { action, assignment: { ...(userId ? { user_id: userId } : {}), ...(queue ? { queue } : {}) }, ...r };
    }
  };

  const fail = (e: unknown) => {
    if (e instanceof ApiError) {
      setErrors(e.fieldErrors());
      setError(e.message);
    } else setError(String(e));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setErrors({});
    const b = body();
    if (!b) return;
    setBusy(true);
    try {
      if (action === 'migrate' && preview === undefined) {
        const res = await api.post<{ result: unknown }>(url, { ...b, dry_run: true }, { ifMatch: view.version });
        setPreview(res.result ?? res);
        return;
      }
      if (await write((version) => api.post(url, b, { ifMatch: version }))) onClose();
      else onClose();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (id: string, label: string, ptr: string, input: preact.JSX.Element) => (
    <div class="field">
      <label for={id}>{label}</label>
      {input}
      {errors[ptr] ? (
        <p class="field-error" id={`${id}-error`}>
          {errors[ptr]}
        </p>
      ) : null}
    </div>
  );
  const title = `${action[0]!.toUpperCase()}${action.slice(1)} “${fragment.title}”`;
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} class="form-grid" noValidate>
        {action === 'migrate'
          ? [
              field('ad-to', 'Migrate to (key@version)', '/to', <input id="ad-to" value={to} onInput={(e) => (setTo(e.currentTarget.value), setPreview(undefined))} aria-invalid={errors['/to'] ? 'true' : undefined} />),
              field('ad-map', 'State mapping (old -> new, one per line, optional)', '/state_mapping', <textarea id="ad-map" rows={2} value={mapping} onInput={(e) => (setMapping(e.currentTarget.value), setPreview(undefined))} />),
            ]
          : null}
        {action === 'jump' ? field('ad-state', 'Jump to state', '/state', <input id="ad-state" value={state} onInput={(e) => setState(e.currentTarget.value)} aria-invalid={errors['/state'] ? 'true' : undefined} />) : null}
        {action === 'reassign'
          ? [
              field('ad-user', 'To person (user id)', '/assignment/user_id', <input id="ad-user" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />),
              field('ad-queue', 'Or to queue', '/assignment/queue', <input id="ad-queue" value={queue} onInput={(e) => setQueue(e.currentTarget.value)} />),
            ]
          : null}
        {field(
          'ad-reason',
          action === 'reassign' ? 'Reason' : 'Reason (required)',
          '/reason',
          <textarea id="ad-reason" rows={2} required={action !== 'reassign'} value={reason} onInput={(e) => setReason(e.currentTarget.value)} aria-invalid={errors['/reason'] ? 'true' : undefined} aria-describedby={errors['/reason'] ? 'ad-reason-error' : undefined} />,
        )}
        {preview !== undefined ? (
          <div class="notice" role="status">
            <strong>Dry run — nothing changed yet.</strong>
            <pre class="preview" tabIndex={0} aria-label="Dry run result">{JSON.stringify(preview, null, 2)}</pre>
          </div>
        ) : null}
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {action === 'migrate' ? (preview === undefined ? 'Preview (dry run)' : 'Apply migration') : title.split(' ')[0]}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </Dialog>
  );
}
