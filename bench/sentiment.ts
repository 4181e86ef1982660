/**
 * `npm run eval:sentiment`: polarity accuracy and confusion counts of the sentiment analyzer on
 * test/fixtures/sentiment-posts.json, with and without the care lexicon, and the cost per post.
 * The last line is one JSON object.
 */
import { readFileSync } from 'node:fs';
import { createSentimentAnalyzer, loadWinkModel } from '../src/signals/sentiment.js';
import { evaluateSentiment, type LabelledPost } from '../src/signals/sentiment-eval.js';

const posts = (JSON.parse(readFileSync(new URL('../test/fixtures/sentiment-posts.json', import.meta.url), 'utf8')) as { posts: LabelledPost[] }).posts;
const loadStarted = performance.now();
const model = loadWinkModel();
const loadMs = performance.now() - loadStarted;

const results: Record<string, unknown> = { posts: posts.length, model_load_ms: Math.round(loadMs) };
for (const lexicon of [false, true]) {
  const analyzer = createSentimentAnalyzer(model, { lexicon });
  const e = evaluateSentiment(analyzer, posts);
  // Cost: every post 20 times after a warm-up pass.
  for (const p of posts) analyzer.analyze(p.text);
  const rounds = 20;
  const started = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const p of posts) analyzer.analyze(`${p.text} ${r}`);
  const usPerPost = Number(process.hrtime.bigint() - started) / 1000 / (rounds * posts.length);
  const name = lexicon ? 'with_lexicon' : 'model_only';
  console.log(`\n${name} (${analyzer.model})`);
  console.log(`  polarity accuracy (non-neutral posts): ${e.polarity.correct}/${e.polarity.posts} = ${e.polarity.accuracy}`);
  console.log(`  three-class accuracy: ${e.threeClass.correct}/${e.posts} = ${e.threeClass.accuracy}`);
  console.log('  confusion (rows expected, columns predicted: negative neutral positive)');
  for (const [expected, row] of Object.entries(e.confusion)) console.log(`    ${expected.padEnd(8)} ${Object.values(row).map((n) => String(n).padStart(4)).join(' ')}`);
  console.log(`  cost: ${usPerPost.toFixed(1)} µs per post`);
  if (process.env['SHOW_MISSES']) for (const m of e.misses) console.log(`    miss ${m.expected}->${m.predicted} ${m.score} ${m.text}`);
  results[name] = { model: analyzer.model, polarity: e.polarity, three_class: e.threeClass, confusion: e.confusion, us_per_post: Math.round(usPerPost * 10) / 10 };
}
console.log(JSON.stringify(results));
