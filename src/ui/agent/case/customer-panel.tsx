/** The customer 360 (from the case's customer summary) and the handoff brief. Everything as text. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/client';
import { linkHandler } from '../../router';
import { dateTime } from '../format';
import type { CaseView } from '../types';

interface Metric {
  value: number;
  as_of: string;
  source: string;
}
interface Customer360 {
  id: string;
  name: string | null;
  segment: string | null;
  tier: string | null;
  identities: { id: string; kind: string; channel: string | null; value: string }[];
  metrics: { lifetime_value: Metric | null; referral_value: Metric | null; churn_risk: Metric | null };
  influence: Record<string, { followers: number | null; reach: number | null; as_of: string }>;
  value_percentiles: { clv: number; crv: number } | null;
  last_contact_at: string | null;
  cases: { open: { id: string; title: string; status: string; priority: string }[]; recent: { id: string; title: string; status: string }[] };
  posts: { id: string; data: Record<string, unknown>; added_at: string }[];
}

function MetricRow({ label, metric, percentile, help }: { label: string; metric: Metric | null; percentile?: number | undefined; help: string }) {
  return (
    <>
      <dt title={help}>{label}</dt>
      <dd>
        {metric ? (
          <>
            {metric.value.toLocaleString()}
            {percentile !== undefined ? ` (above ${Math.round(percentile * 100)}% of customers)` : ''}{' '}
            <span class="muted">
              — {metric.source}, as of {dateTime(metric.as_of)}
            </span>
          </>
        ) : (
          <span class="muted">not measured</span>
        )}
      </dd>
    </>
  );
}

/** Sentiment of the customer's latest posts, oldest to newest, as text ("-0.6 → 0.1"). */
function sentimentTrend(posts: Customer360['posts']): string | undefined {
  const scores = posts
    .map((p) => {
      const s = p.data.sentiment as { score?: number } | undefined;
      return typeof s?.score === 'number' ? s.score : undefined;
    })
    .filter((x): x is number => x !== undefined)
    .slice(0, 5)
    .reverse();
  return scores.length ? scores.map((x) => x.toFixed(1)).join(' → ') : undefined;
}

export function CustomerPanel({ view }: { view: CaseView }) {
  const customerId = (view.customer?.id as string | undefined) ?? undefined;
  const [c, setC] = useState<Customer360 | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    if (!customerId) {
      setC(null);
      return;
    }
    api.get<Customer360>(`/v1/customers/${encodeURIComponent(customerId)}`).then(setC, (e: Error) => {
      setC(null);
      setError(e.message);
    });
  }, [customerId, view.version]);
  const trend = c ? sentimentTrend(c.posts) : undefined;
  return (
    <section class="panel customer" aria-labelledby="customer-title">
      <h2 id="customer-title">Customer</h2>
      {!customerId ? <p class="muted">No customer on this case.</p> : null}
      {error ? <p class="muted">{error}</p> : null}
      {c ? (
        <dl class="kv">
          <dt>Name</dt>
          <dd>{c.name ?? c.id}</dd>
          <dt>Segment / tier</dt>
          <dd>
            {c.segment ?? '—'} / {c.tier ?? '—'}
          </dd>
          <dt>Identities</dt>
          <dd>{c.identities.map((i) => `${i.kind}${i.channel ? ` (${i.channel})` : ''}: ${i.value}`).join(', ') || '—'}</dd>
          <MetricRow label="Lifetime value" metric={c.metrics.lifetime_value} percentile={c.value_percentiles?.clv} help="CLV: what the customer has brought, from the CRM" />
          <MetricRow label="Referral value" metric={c.metrics.referral_value} percentile={c.value_percentiles?.crv} help="CRV: value of the customers they referred" />
          <MetricRow label="Churn risk" metric={c.metrics.churn_risk} help="0..1, from the CRM" />
          <dt>Influence</dt>
          <dd>
            {Object.entries(c.influence)
              .map(([ch, v]) => `${ch}: ${v.followers ?? '?'} followers, reach ${v.reach ?? '?'} (as of ${dateTime(v.as_of)})`)
              .join('; ') || '—'}
          </dd>
          <dt>Sentiment trend</dt>
          <dd>{trend ?? <span class="muted">no scored posts</span>}</dd>
          <dt>Last contact</dt>
          <dd>{dateTime(c.last_contact_at)}</dd>
          <dt>Open cases</dt>
          <dd>
            <ul>
              {c.cases.open.map((o) => (
                <li key={o.id}>
                  <a href={`/cases/${o.id}`} onClick={linkHandler(`/cases/${o.id}`)}>
                    {o.title}
                  </a>{' '}
                  <span class="muted">
                    ({o.status}, {o.priority})
                  </span>
                </li>
              ))}
            </ul>
          </dd>
          <dt>Recent cases</dt>
          <dd>{c.cases.recent.map((r) => `${r.title} (${r.status})`).join('; ') || '—'}</dd>
        </dl>
      ) : null}
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
