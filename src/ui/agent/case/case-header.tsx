/** The case header: at most seven fields (title, status, priority with its factors, owner, queue, customer, channel). */
import { Person } from '../../api/people';
import { PriorityBadge } from '../inbox';
import type { CaseView, PriorityFactor } from '../types';

function factorText(f: PriorityFactor): string {
  const name = (f.label ?? f.name ?? f.key ?? 'factor') as string;
  const c = typeof f.contribution === 'number' ? ` +${Math.round(f.contribution * 10) / 10}` : '';
  return `${name}${c}`;
}

export function channelOf(view: CaseView): string {
  const post = view.posts[0];
  if (post) return post.channel;
  const c = (view.customer ?? {}) as Record<string, unknown>;
  if (typeof c.channel === 'string') return c.channel;
  const ref = Object.keys(view.external_refs ?? {})[0];
  return ref ?? 'direct';
}

export function CaseHeader({ view }: { view: CaseView }) {
  const p = view.priority;
  const factors = p.factors.map(factorText);
  const why = [
    p.score !== null ? `score ${Math.round(p.score)} / 100` : undefined,
    ...factors,
    p.overridden_by ? `overridden by ${p.overridden_by.user_id}: ${p.overridden_by.reason}` : undefined,
  ]
    .filter(Boolean)
    .join('\n');
  const customer = view.customer ? ((view.customer.name as string | undefined) ?? (view.customer.id as string | undefined) ?? '—') : '—';
  return (
    <header class="case-header panel">
      <h1 id="case-title">{view.title}</h1>
      <dl>
        <div>
          <dt>Status</dt>
          <dd>{view.status === 'on_hold' ? `on hold: ${view.hold_reason ?? ''}` : view.status}</dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>
            <span tabIndex={0} title={why || 'no factors recorded'} aria-describedby="priority-why">
              <PriorityBadge value={p.value} />
            </span>
            <span id="priority-why" class="visually-hidden">
              {why ? `Why: ${why.replace(/\n/g, '; ')}` : 'No priority factors recorded'}
            </span>
          </dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{view.owner_id ? <Person id={view.owner_id} /> : 'unassigned'}</dd>
        </div>
        <div>
          <dt>Queue</dt>
          <dd>{view.queue ?? '—'}</dd>
        </div>
        <div>
          <dt>Customer</dt>
          <dd>{customer}</dd>
        </div>
        <div>
          <dt>Channel</dt>
          <dd>{channelOf(view)}</dd>
        </div>
      </dl>
    </header>
  );
}
