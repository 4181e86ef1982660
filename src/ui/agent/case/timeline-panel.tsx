/** The timeline: every journal entry with actor and reason, filterable by kind and text. */
import { useMemo, useState } from 'preact/hooks';
import { usePeople } from '../../api/people';
import { When } from '../when';
import type { TimelineEntry } from '../types';

const KINDS: Record<string, (type: string) => boolean> = {
  all: () => true,
  content: (t) => t.startsWith('content.'),
  tasks: (t) => t.startsWith('task.'),
  plan: (t) => t.startsWith('fragment.') || t.startsWith('event.') || t.startsWith('state.'),
  sla: (t) => t.startsWith('goal.') || t.startsWith('sla.') || t.includes('deadline'),
  case: (t) => t.startsWith('case.') || t.startsWith('priority.'),
};

function summary(e: TimelineEntry): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  const bits: string[] = [];
  for (const k of ['event', 'eventType', 'state', 'to', 'goalKey', 'taskId', 'kind', 'title', 'text']) {
    const v = d[k];
    if (typeof v === 'string' || typeof v === 'number') bits.push(`${k}: ${String(v).slice(0, 200)}`);
    else if (v && typeof v === 'object' && 'type' in (v as object)) bits.push(`${k}: ${String((v as { type: unknown }).type)}`);
  }
  return bits.join(' · ');
}

export function TimelinePanel({ entries }: { entries: TimelineEntry[] }) {
  const [kind, setKind] = useState('all');
  const [text, setText] = useState('');
  const name = usePeople(entries.map((e) => e.actor.id));
  const shown = useMemo(() => {
    const t = text.toLowerCase();
    return entries
      .filter((e) => KINDS[kind]!(e.type))
      .filter((e) => !t || e.type.includes(t) || (e.reason ?? '').toLowerCase().includes(t) || e.actor.id.toLowerCase().includes(t) || name(e.actor.id).toLowerCase().includes(t))
      .slice()
      .reverse();
  }, [entries, kind, text, name]);
  return (
    <section class="panel timeline" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <div class="filters">
        <label for="tl-kind">Show</label>
        <select id="tl-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
          {Object.keys(KINDS).map((k) => (
            <option value={k} key={k}>
              {k}
            </option>
          ))}
        </select>
        <label for="tl-q">Filter</label>
        <input id="tl-q" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <span class="muted">
          {shown.length} of {entries.length}
        </span>
      </div>
      <ol>
        {shown.map((e) => (
          <li key={`${e.version}.${e.idx}`} data-type={e.type}>
            <strong>{e.type}</strong> {summary(e)}
            <div class="meta">
              v{e.version} · <When iso={e.at} /> · by <span title={e.actor.id}>{name(e.actor.id)}</span> ({e.actor.role}){e.reason ? ` · reason: ${e.reason}` : ''}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
