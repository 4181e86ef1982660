/**
 * Sentiment of a short post, in process and offline: wink-nlp with the model that ships inside
 * the `wink-eng-lite-web-model` npm package (negation, emoji and emoticons handled by the model),
 * plus a small customer-care lexicon that the general model underrates (outage, overcharged,
 * refund, scam...). Deterministic: the same text gives the same score, so decisions replay.
 *
 * The model is loaded by `loadWinkModel` (about 0.35 s and a few MB, once per process) and passed
 * to `createSentimentAnalyzer`; analysing a post is then pure CPU (~50 µs, see README "Sentiment").
 */
import { createRequire } from 'node:module';
import type { SentimentLabel } from './content-kinds.js';

export interface ComputedSentiment {
  /** -1 (negative) .. 1 (positive), rounded to 3 decimals. */
  score: number;
  label: SentimentLabel;
  /** `wink-eng-lite-web-model@<version>` (+ `+care-lexicon@<n>` when the lexicon is on). */
  model: string;
}

export interface SentimentAnalyzer {
  /** Model id stored beside every score. */
  readonly model: string;
  analyze(text: string): ComputedSentiment;
}

/** What the analyzer needs from wink-nlp: a document's sentiment and its tokens. */
export interface SentimentModel {
  /** e.g. `wink-eng-lite-web-model@1.8.1`. */
  id: string;
  /**
   * The model's sentiment of the text (-1..1), its lower-case word tokens and, for each, whether
   * the model saw it negated ("not happy"). One parse for both.
   */
  read(text: string): { sentiment: number; words: { word: string; negated: boolean }[] };
}

/** Loads wink-nlp with its English model, once; hand the result to `createSentimentAnalyzer`. */
export function loadWinkModel(): SentimentModel {
  const require = createRequire(import.meta.url);
  const winkNLP = require('wink-nlp') as (model: unknown, pipe?: string[]) => WinkNlp;
  const model = require('wink-eng-lite-web-model') as unknown;
  const version = (require('wink-eng-lite-web-model/package.json') as { version: string }).version;
  // Only what sentiment needs: sentence boundaries, negation, sentiment (POS and NER cost time).
  const nlp = winkNLP(model, ['sbd', 'negation', 'sentiment']);
  const its = nlp.its;
  return {
    id: `wink-eng-lite-web-model@${version}`,
    read(text) {
      const doc = nlp.readDoc(text);
      const tokens = doc.tokens();
      const words = tokens.out(its.normal) as string[];
      const negated = tokens.out(its.negationFlag) as boolean[];
      const types = tokens.out(its.type) as string[];
      return {
        sentiment: doc.out(its.sentiment) as number,
        words: words.flatMap((word, i) => (types[i] === 'word' ? [{ word, negated: negated[i] === true }] : [])),
      };
    },
  };
}

interface WinkNlp {
  its: { sentiment: unknown; normal: unknown; negationFlag: unknown; type: unknown };
  readDoc(text: string): {
    out(what: unknown): unknown;
    tokens(): { out(what: unknown): unknown };
  };
}

/**
 * Words and phrases of customer care that signal a complaint however politely written. Each hit
 * pushes the score down by `LEXICON_WEIGHT`; a negated hit ("no outage") does not count.
 */
export const CARE_LEXICON: readonly string[] = [
  'outage', 'down', 'overcharged', 'charged', 'refund', 'crash', 'crashing', 'crashed', 'scam', 'cancel', 'cancelled',
  'cancelling', 'broken', 'broke', 'waiting', 'late', 'lost', 'stolen', 'never', 'suspended', 'spam', 'fees', 'rip-off',
  'hold', 'bricked', 'useless', 'error', 'fake', 'liars', 'avoid',
];
const LEXICON_VERSION = 1;
const LEXICON_WEIGHT = 0.25;

/** A score in (-NEUTRAL_BAND, NEUTRAL_BAND) is neutral. */
export const NEUTRAL_BAND = 0.05;

export interface SentimentOptions {
  /** Adjust with the care lexicon (default true; README "Sentiment" has the measured effect). */
  lexicon?: boolean;
}

export function createSentimentAnalyzer(model: SentimentModel, options: SentimentOptions = {}): SentimentAnalyzer {
  const useLexicon = options.lexicon ?? true;
  const lexicon = new Set(CARE_LEXICON);
  const id = useLexicon ? `${model.id}+care-lexicon@${LEXICON_VERSION}` : model.id;
  return {
    model: id,
    analyze(text) {
      const read = model.read(text);
      let score = read.sentiment;
      if (useLexicon) score -= read.words.filter((t) => lexicon.has(t.word) && !t.negated).length * LEXICON_WEIGHT;
      score = Math.round(Math.max(-1, Math.min(1, score)) * 1000) / 1000;
      return { score, label: labelOf(score), model: id };
    },
  };
}

export function labelOf(score: number): SentimentLabel {
  if (score <= -NEUTRAL_BAND) return 'negative';
  if (score >= NEUTRAL_BAND) return 'positive';
  return 'neutral';
}
