/**
 * Polarity accuracy of a sentiment analyzer over labelled posts (test/fixtures/sentiment-posts.json).
 * Pure: the caller loads the posts and the model. Used by the test and by `npm run eval:sentiment`.
 */
import type { SentimentLabel } from './content-kinds.js';
import type { SentimentAnalyzer } from './sentiment.js';

export interface LabelledPost {
  text: string;
  label: SentimentLabel;
}

export interface SentimentEvaluation {
  posts: number;
  /** Negative vs positive over the posts labelled non-neutral: the sign of the score (a neutral answer counts as wrong). */
  polarity: { posts: number; correct: number; accuracy: number };
  /** Three classes over every post. */
  threeClass: { correct: number; accuracy: number };
  /** confusion[expected][predicted]. */
  confusion: Record<SentimentLabel, Record<SentimentLabel, number>>;
  /** The posts it got wrong (expected, predicted, score, text). */
  misses: { expected: SentimentLabel; predicted: SentimentLabel; score: number; text: string }[];
}

export function evaluateSentiment(analyzer: SentimentAnalyzer, posts: readonly LabelledPost[]): SentimentEvaluation {
  const labels: SentimentLabel[] = ['negative', 'neutral', 'positive'];
  const confusion = Object.fromEntries(labels.map((l) => [l, Object.fromEntries(labels.map((m) => [m, 0]))])) as SentimentEvaluation['confusion'];
  let polar = 0;
  let polarCorrect = 0;
  let correct = 0;
  const misses: SentimentEvaluation['misses'] = [];
  for (const post of posts) {
    const { score, label } = analyzer.analyze(post.text);
    confusion[post.label][label] += 1;
    if (label === post.label) correct += 1;
    else misses.push({ expected: post.label, predicted: label, score, text: post.text });
    if (post.label !== 'neutral') {
      polar += 1;
      if (label === post.label) polarCorrect += 1;
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 1000) / 1000);
  return {
    posts: posts.length,
    polarity: { posts: polar, correct: polarCorrect, accuracy: ratio(polarCorrect, polar) },
    threeClass: { correct, accuracy: ratio(correct, posts.length) },
    confusion,
    misses,
  };
}
