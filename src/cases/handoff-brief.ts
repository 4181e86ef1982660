/**
 * The handoff brief: what the next person on a case needs to know, built when the case or one of
 * its tasks changes hands. Pure and deterministic — the same case, input and time give the same
 * brief, byte for byte — so it can be rebuilt from the journal and checked against it.
 *
 * Every claim is traceable: `sinceLastHandoff` counts exactly the journal entries after
 * `sinceVersion` (given in `input.journal`), highlights quote entries by version, goals and tasks
 * are the case's own, and customer facts name their source (`customer`: the customer aggregate's
 * summary, when the edge passes one; `case_content`: the latest social post and CRM profile
 * attached to the case).
 */
import type { Assignment, CaseState, ContentAnalysis, HandoffBrief, HandoffInput, JournalEntry } from './types.js';

const MAX_HIGHLIGHTS = 15;

/** Journal entry types a newcomer cares about; bookkeeping (`timer.*`, `event.received` of tasks) is counted, not quoted. */
const NOTABLE = new Set([
  'case.opened',
  'case.reassigned',
  'case.held',
  'case.resumed',
  'fragment.added',
  'fragment.completed',
  'fragment.cancelled',
  'fragment.jumped',
  'fragment.migrated',
  'fragment.reassigned',
  'goal.achieved',
  'goal.added',
  'goal.updated',
  'goal.at_risk',
  'goal.breached',
  'task.opened',
  'task.completed',
  'task.reassigned',
  'task.assigned',
  'task.claimed',
  'content.added',
  'milestone.reached',
  'case.priority_changed',
  'case.resolved',
  'task.cancelled',
  'event.received',
]);

export interface BriefRequest {
  /** The case after the handoff command's change. */
  case: CaseState;
  /** The version the handoff command produces. */
  atVersion: number;
  now: string;
  handoff: HandoffBrief['handoff'];
  input: HandoffInput | undefined;
}

export function buildHandoffBrief({ case: c, atVersion, now, handoff, input }: BriefRequest): HandoffBrief {
  const sinceVersion = c.handoffBrief?.atVersion ?? 0;
  const entries = (input?.journal ?? []).filter((e) => e.version > sinceVersion);
  const byType: Record<string, number> = {};
  for (const e of entries) byType[e.type] = (byType[e.type] ?? 0) + 1;
  const highlights = entries
    .filter((e) => NOTABLE.has(e.type))
    .slice(-MAX_HIGHLIGHTS)
    .map((e) => ({ version: e.version, at: e.at, type: e.type, actorId: e.actor.id, summary: summarise(e) }));

  return {
    builtAt: now,
    atVersion,
    sinceVersion,
    handoff,
    sinceLastHandoff: {
      entries: Math.max(input?.journalTotal ?? entries.length, entries.length),
      byType: sortedRecord(byType),
      highlights,
    },
    openGoals: c.goals
      .filter((g) => g.status === 'open')
      .map((g) => ({
        key: g.key,
        title: g.title,
        required: g.required,
        ...(g.deadlineAt !== undefined ? { deadlineAt: g.deadlineAt } : {}),
        ...(g.sla !== undefined ? { sla: g.sla } : {}),
      }))
      .sort((a, b) => (a.deadlineAt ?? '~').localeCompare(b.deadlineAt ?? '~') || a.key.localeCompare(b.key)),
    pendingTasks: c.tasks
      .filter((t) => t.status === 'open')
      .map((t) => ({
        id: t.id,
        title: t.title,
        ...(t.role !== undefined ? { role: t.role } : {}),
        assignment: t.assignment,
        ...(t.dueAt !== undefined ? { dueAt: t.dueAt } : {}),
      }))
      .sort((a, b) => (a.dueAt ?? '~').localeCompare(b.dueAt ?? '~') || a.id.localeCompare(b.id)),
    lastCustomerContact: lastContact(input),
    customer: customerFacts(input),
  };
}

function summarise(e: JournalEntry): string {
  const d = e.data;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
  switch (e.type) {
    case 'task.opened':
      return `task "${str(d['title'])}" opened`;
    case 'task.completed':
      return `task ${str(d['taskId'])} completed by ${e.actor.id}`;
    case 'task.claimed':
      return `task ${str(d['taskId'])} claimed by ${str(d['by'])}`;
    case 'task.assigned':
    case 'task.reassigned':
      return `task ${str(d['taskId'])} to ${who(d['to'] as Assignment | undefined)}`;
    case 'case.reassigned':
      return `case to ${who({ ...(d['to'] as { ownerId?: string; queue?: string } | undefined) } as Assignment)}`;
    case 'event.received':
      return `event ${str(d['event'])}`;
    case 'content.added':
      return `${str(d['kind'])} added by ${e.actor.id}`;
    case 'goal.achieved':
    case 'goal.at_risk':
    case 'goal.breached':
    case 'goal.added':
    case 'goal.updated':
      return `goal ${str(d['goalKey'] ?? d['key'])}: ${e.type.slice(5)}`;
    default:
      return e.reason ? `${e.type} (${e.reason})` : e.type;
  }
}

function who(a: (Assignment & { ownerId?: string }) | undefined): string {
  if (!a) return 'nobody';
  const user = a.userId ?? a.ownerId;
  if (user && a.queue) return `${user} (queue ${a.queue})`;
  if (user) return user;
  return a.queue ? `queue ${a.queue}` : 'nobody';
}

function latest(input: HandoffInput | undefined, kind: 'social_post' | 'crm_profile') {
  return input?.latestContent.find((c) => c.kind === kind);
}

function lastContact(input: HandoffInput | undefined): HandoffBrief['lastCustomerContact'] {
  const fromCustomer = input?.customer?.lastContact;
  if (fromCustomer) return { ...fromCustomer, source: 'customer' };
  const post = latest(input, 'social_post');
  if (!post) return null;
  const channel = typeof post.data['channel'] === 'string' ? post.data['channel'] : undefined;
  const text = typeof post.data['text'] === 'string' ? post.data['text'].slice(0, 280) : undefined;
  return { at: post.addedAt, ...(channel ? { channel } : {}), ...(text ? { summary: text } : {}), source: 'case_content' };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function customerFacts(input: HandoffInput | undefined): HandoffBrief['customer'] {
  const customer = input?.customer;
  if (customer) {
    const value = compact({ lifetimeValue: customer.lifetimeValue, segment: customer.segment, churnRisk: customer.churnRisk });
    return {
      source: 'customer',
      value: Object.keys(value).length > 0 ? value : null,
      mood: customer.sentiment !== undefined ? mood(customer.sentiment, customer.sentimentAt) : null,
    };
  }
  const crm = latest(input, 'crm_profile');
  const post = latest(input, 'social_post');
  if (!crm && !post) return null;
  const value = crm
    ? compact({
        lifetimeValue: num(crm.data['lifetime_value'] ?? crm.data['lifetimeValue']),
        segment: typeof crm.data['segment'] === 'string' ? crm.data['segment'] : undefined,
        churnRisk: num(crm.data['churn_risk'] ?? crm.data['churnRisk']),
      })
    : {};
  const sentiment = post ? postSentiment(post) : undefined;
  return {
    source: 'case_content',
    value: Object.keys(value).length > 0 ? value : null,
    mood: sentiment !== undefined ? mood(sentiment, post!.addedAt) : null,
  };
}

/** Sentiment -1..1: below -0.2 negative, above 0.2 positive. */
function mood(sentiment: number, at: string | undefined): NonNullable<HandoffBrief['customer']>['mood'] {
  const label = sentiment < -0.2 ? 'negative' : sentiment > 0.2 ? 'positive' : 'neutral';
  return { sentiment, label, ...(at !== undefined ? { at } : {}) };
}

function compact<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/** A post's sentiment, -1..1: computed (analysis) first, then the sender's `{ score }` or bare number. */
export function postSentiment(post: { data: Record<string, unknown>; analysis?: ContentAnalysis }): number | undefined {
  const computed = post.analysis?.sentiment?.score;
  if (typeof computed === 'number') return computed;
  const provided = post.data['sentiment'];
  if (typeof provided === 'number' && Number.isFinite(provided)) return provided;
  if (provided && typeof provided === 'object' && typeof (provided as { score?: unknown }).score === 'number') return (provided as { score: number }).score;
  return undefined;
}
