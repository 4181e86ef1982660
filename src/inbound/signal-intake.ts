/**
 * Intake's view of the signals pipeline (src/signals): the event's content must be valid for
 * its typed content kind (a social post needs its channel and post id or url, ...; a problem
 * fails the row naming the field, nothing written), and a post's text gets its sentiment
 * computed in process, before the intake rules decide (they read `event.sentiment`). The
 * analyzer's model is loaded on first use (about 0.35 s), once per process.
 */
import { TesseraError } from '../errors.js';
import { createContentChecker, type ContentChecker } from '../signals/content-kinds.js';
import { createSentimentAnalyzer, loadWinkModel, type SentimentAnalyzer } from '../signals/sentiment.js';
import { CONTENT_KIND_OF } from './intake-event.js';
import { providedSignals, type IntakeSignals } from './intake-ports.js';

export interface SignalIntakeDeps {
  /** Default: wink-nlp with its shipped model, loaded on first use. */
  sentiment?: () => SentimentAnalyzer;
  content?: ContentChecker;
}

export interface SignalIntake extends IntakeSignals {
  /** Posts analysed and the CPU time sentiment took, for /metrics and the bench. */
  stats(): { posts: number; sentimentMs: number };
}

export function createSignalIntake(deps: SignalIntakeDeps = {}): SignalIntake {
  let analyzer: SentimentAnalyzer | undefined;
  const sentiment = () => (analyzer ??= (deps.sentiment ?? (() => createSentimentAnalyzer(loadWinkModel())))());
  let content: ContentChecker | undefined = deps.content;
  let posts = 0;
  let sentimentNs = 0n;
  return {
    async analyse(event) {
      const kind = CONTENT_KIND_OF[event.kind];
      const check = (content ??= createContentChecker()).check(kind, event.data);
      if (!check.ok) {
        const errors = check.problems.map((p) => ({ pointer: p.pointer, in: 'intake', detail: p.detail }));
        throw new TesseraError('VALIDATION_FAILED', `intake event ${kind} ${errors[0]!.pointer} ${errors[0]!.detail}; fix the source mapping's intake.data`, { errors });
      }
      const text = event.data.text;
      if (event.kind !== 'social_post' || typeof text !== 'string' || text.trim() === '') return providedSignals.analyse(event);
      const started = process.hrtime.bigint();
      const computed = sentiment().analyze(text);
      sentimentNs += process.hrtime.bigint() - started;
      posts++;
      return { sentiment: { score: computed.score, label: computed.label, model: computed.model }, data: event.data };
    },
    stats: () => ({ posts, sentimentMs: Number(sentimentNs) / 1e6 }),
  };
}
