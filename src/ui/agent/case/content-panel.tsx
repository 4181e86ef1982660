/** Content: add a note; see notes and posts (with sentiment). User text is rendered as text. */
import { useState } from 'preact/hooks';

/** The newest items shown at first; the rest on demand (a long social thread stays fast). */
const FIRST = 50;
import { api, ApiError } from '../../api/client';
import { dateTime } from '../format';
import type { CaseView, ContentItem } from '../types';
import type { CaseWrite } from './case-screen';

function sentimentText(score: number): { text: string; tone: string } {
  if (score <= -0.25) return { text: `negative (${score.toFixed(2)})`, tone: 'bad' };
  if (score >= 0.25) return { text: `positive (${score.toFixed(2)})`, tone: 'ok' };
  return { text: `neutral (${score.toFixed(2)})`, tone: 'plain' };
}

export function ContentPanel({ view, items, write }: { view: CaseView; items: ContentItem[]; write: CaseWrite }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [all, setAll] = useState(false);
  const add = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      if (await write((version) => api.post(`/v1/cases/${encodeURIComponent(view.id)}/content`, { kind: 'note', data: { text } }, { ifMatch: version }))) setText('');
    } catch (err) {
      setError(err instanceof ApiError ? (err.problem.errors?.map((x) => x.detail).join('; ') || err.message) : String(err));
    }
  };
  const postSentiment = new Map(view.posts.map((p) => [p.content_id, p.sentiment]));
  return (
    <section class="panel content" aria-labelledby="content-title">
      <h2 id="content-title">Conversation and notes</h2>
      <form onSubmit={add} class="form-grid">
        <label for="note-text">Add a note</label>
        <textarea id="note-text" rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} />
        {error ? (
          <p class="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={!text.trim()}>
            Add note
          </button>
        </div>
      </form>
      {items.length === 0 ? <p class="muted">No content yet.</p> : null}
      {items
        .slice()
        .reverse()
        .slice(0, all ? undefined : FIRST)
        .map((c) => {
          const d = c.data ?? {};
          const sentiment = postSentiment.get(c.id) ?? c.analysis?.sentiment ?? null;
          const s = sentiment ? sentimentText(sentiment.score) : undefined;
          return (
            <div class={c.kind === 'social_post' ? 'post' : 'note'} key={c.id} data-content={c.id}>
              <div class="meta muted">
                {c.kind === 'social_post' ? `${String(d.channel ?? 'post')} · @${String(d.author_handle ?? 'unknown')}` : c.kind} · {dateTime(c.added_at ?? null)}
                {c.added_by ? ` · by ${c.added_by}` : ''}
                {s ? (
                  <>
                    {' '}
                    · sentiment <span class={`badge ${s.tone}`}>{s.text}</span>
                  </>
                ) : null}
              </div>
              <div class="text">{String(d.text ?? d.name ?? d.url ?? '')}</div>
            </div>
          );
        })}
      {!all && items.length > FIRST ? (
        <button type="button" onClick={() => setAll(true)}>
          Show all {items.length} items
        </button>
      ) : null}
    </section>
  );
}
