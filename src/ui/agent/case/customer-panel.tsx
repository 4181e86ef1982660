/** The customer 360 (from the case's customer summary) and the handoff brief. Everything as text. */
import type { CaseView } from '../types';

function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <>—</>;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('value' in o) {
      const when = o.as_of ?? o.measured_at ?? o.at;
      return (
        <>
          {String(o.value)}
          {when ? <span class="muted"> (as of {String(when)})</span> : null}
        </>
      );
    }
    return <>{JSON.stringify(v)}</>;
  }
  return <>{String(v)}</>;
}

function label(key: string): string {
  return key.replace(/_/g, ' ');
}

export function CustomerPanel({ view }: { view: CaseView }) {
  const s = view.customer_summary as Record<string, unknown> | undefined;
  return (
    <section class="panel customer" aria-labelledby="customer-title">
      <h2 id="customer-title">Customer</h2>
      {!s && !view.customer ? <p class="muted">No customer on this case.</p> : null}
      <dl class="kv">
        {Object.entries({ ...(view.customer ?? {}), ...(s ?? {}) })
          .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
          .slice(0, 24)
          .map(([k, v]) => (
            <>
              <dt key={`k-${k}`}>{label(k)}</dt>
              <dd key={`v-${k}`}>
                {Array.isArray(v) ? (
                  <ul>
                    {v.slice(0, 10).map((x, i) => (
                      <li key={i}>
                        <Value v={typeof x === 'object' && x && 'title' in x ? `${String((x as Record<string, unknown>).title)} (${String((x as Record<string, unknown>).status ?? '')})` : x} />
                      </li>
                    ))}
                  </ul>
                ) : (
                  <Value v={v} />
                )}
              </dd>
            </>
          ))}
      </dl>
    </section>
  );
}

export function HandoffBrief({ brief }: { brief: Record<string, unknown> }) {
  const since = (brief.since_last_handoff ?? {}) as { entries?: number; highlights?: unknown[] };
  const handoff = (brief.handoff ?? {}) as { by?: string; kind?: string };
  return (
    <section class="panel handoff" aria-labelledby="handoff-title">
      <h2 id="handoff-title">Handoff brief</h2>
      <p class="muted">
        Handed over by {handoff.by ?? '—'} ({handoff.kind ?? 'case'}) at version {String(brief.at_version ?? '')}; {since.entries ?? 0} entries since the last handoff.
      </p>
      <ul>
        {(since.highlights ?? []).slice(0, 10).map((h, i) => {
          const o = h as Record<string, unknown>;
          return <li key={i}>{typeof h === 'string' ? h : String(o.summary ?? o.text ?? o.type ?? JSON.stringify(h))}</li>;
        })}
      </ul>
    </section>
  );
}
