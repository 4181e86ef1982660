/**
 * Social posts on a case: a post arrives (content.add of a `social_post`) or is sent again
 * with the same identity (channel + post id / URL), which updates it — new reach, engagements,
 * followers, text — and keeps every version (`content.update` effect -> content_revisions).
 * Sentiment is computed when the text is new or changed, with the engine's analyzer.
 */
import { createHash } from 'node:crypto';
import { postIdentity, type SocialPostData } from '../signals/content-kinds.js';
import { viralityOf } from '../signals/virality.js';
import type { PostFacts } from '../signals/priority-score.js';
import { emit, journal, type Draft } from './draft.js';
import type { ContentAnalysis, ContentItem, PostSignal } from './types.js';

/** Samples kept on the case per post (the whole history is in content_revisions). */
export const POST_SAMPLES_KEPT = 12;

const UPDATABLE = ['text', 'followers', 'engagements', 'reach', 'author_handle', 'posted_at', 'url', 'sentiment', 'extra'] as const;

/** Adds or updates the post; returns what the command answers. */
export function receivePost(d: Draft, data: SocialPostData): { contentId: string; updated: boolean; revision: number } {
  const identity = postIdentity(data);
  const posts = (d.case.posts ??= []);
  const existing = posts.find((p) => p.identity === identity);
  const textHash = data.text !== undefined ? sha256(data.text) : undefined;
  if (!existing) {
    const analysis = analyse(d, data.text);
    const item: ContentItem = {
      id: d.ctx.newId(),
      kind: 'social_post',
      data: structuredClone(data) as Record<string, unknown>,
      addedBy: d.ctx.actor.id,
      addedAt: d.now,
      revision: 1,
      ...(analysis ? { analysis } : {}),
    };
    d.effects.push({ type: 'content.add', item });
    const signal: PostSignal = {
      contentId: item.id,
      identity,
      channel: data.channel,
      revision: 1,
      firstSeenAt: d.now,
      updatedAt: d.now,
      samples: [],
      ...(textHash !== undefined ? { textHash } : {}),
    };
    posts.push(signal);
    applyFigures(d, signal, data, analysis);
    journal(d, 'content.added', { contentId: item.id, kind: item.kind, identity, ...figures(signal) });
    emit(d, 'content.added', { contentId: item.id, kind: item.kind });
    return { contentId: item.id, updated: false, revision: 1 };
  }

  // An update: fields sent replace the stored ones; fields left out keep their value.
  const textChanged = textHash !== undefined && textHash !== existing.textHash;
  const analysis = textChanged ? analyse(d, data.text) : undefined;
  const revision = existing.revision + 1;
  const previous = { ...figures(existing) };
  existing.revision = revision;
  existing.updatedAt = d.now;
  if (textChanged) existing.textHash = textHash;
  applyFigures(d, existing, data, analysis);
  const changed = UPDATABLE.filter((f) => data[f] !== undefined);
  // The content row keeps the latest of every field; the revision row records what was sent.
  d.effects.push({
    type: 'content.update',
    item: {
      id: existing.contentId,
      kind: 'social_post',
      data: structuredClone(data) as Record<string, unknown>,
      addedBy: d.ctx.actor.id,
      addedAt: existing.firstSeenAt,
      revision,
      updatedAt: d.now,
      updatedBy: d.ctx.actor.id,
      ...(analysis ? { analysis } : {}),
    },
    revision: {
      contentId: existing.contentId,
      revision,
      data: structuredClone(data) as Record<string, unknown>,
      ...(analysis ? { analysis } : {}),
      at: d.now,
      by: d.ctx.actor.id,
    },
  });
  journal(d, 'content.updated', { contentId: existing.contentId, kind: 'social_post', identity, revision, changed, from: previous, to: figures(existing) });
  emit(d, 'content.updated', { contentId: existing.contentId, kind: 'social_post', revision });
  return { contentId: existing.contentId, updated: true, revision };
}

function applyFigures(d: Draft, signal: PostSignal, data: SocialPostData, analysis: ContentAnalysis | undefined): void {
  if (data.author_handle !== undefined) signal.authorHandle = data.author_handle;
  if (data.followers !== undefined) signal.followers = data.followers;
  if (data.engagements !== undefined) signal.engagements = data.engagements;
  if (data.reach !== undefined) signal.reach = data.reach;
  if (data.posted_at !== undefined) signal.postedAt = data.posted_at;
  if (analysis?.sentiment) {
    signal.sentiment = { score: analysis.sentiment.score, source: 'computed', model: analysis.sentiment.model };
  } else if (data.sentiment !== undefined && signal.sentiment?.source !== 'computed') {
    signal.sentiment = { score: data.sentiment.score, source: 'provided' };
  }
  if (data.engagements !== undefined || data.reach !== undefined) {
    signal.samples.push({
      at: d.now,
      ...(data.engagements !== undefined ? { engagements: data.engagements } : {}),
      ...(data.reach !== undefined ? { reach: data.reach } : {}),
    });
    if (signal.samples.length > POST_SAMPLES_KEPT) signal.samples.splice(0, signal.samples.length - POST_SAMPLES_KEPT);
  }
}

function analyse(d: Draft, text: string | undefined): ContentAnalysis | undefined {
  const analyzer = d.engine.sentiment;
  if (!analyzer || text === undefined || text.trim() === '') return undefined;
  return { sentiment: analyzer.analyze(text) };
}

function figures(p: PostSignal) {
  return {
    reach: p.reach ?? null,
    engagements: p.engagements ?? null,
    followers: p.followers ?? null,
    sentiment: p.sentiment?.score ?? null,
  };
}

/** What the priority score reads of each post, virality included. */
export function postFacts(posts: readonly PostSignal[]): PostFacts[] {
  return posts.map((p) => {
    const v = viralityOf(p.samples, p.postedAt);
    return {
      contentId: p.contentId,
      ...(p.sentiment ? { sentiment: { score: p.sentiment.score, source: p.sentiment.source } } : {}),
      ...(p.reach !== undefined ? { reach: p.reach } : {}),
      ...(p.followers !== undefined ? { followers: p.followers } : {}),
      ...(p.authorHandle !== undefined ? { authorHandle: p.authorHandle } : {}),
      ...(v ? { virality: v.perHour } : {}),
    };
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
