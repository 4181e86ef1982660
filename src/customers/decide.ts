/**
 * The customer's pure core: `decideCustomer(state, command, ctx)` -> the next state, the rows to
 * write (effects), journal entries and outbound events; `decideMerge` does the same for a merge,
 * which changes two customers at once. No I/O, no clock: time and ids come in `ctx`.
 *
 * A command that changes nothing (linking an identity the customer already has, a patch equal to
 * what is stored) answers `{ ok: true }` with the state it was given (the same object): the caller
 * writes nothing. "Claimed by another customer" cannot be seen from one aggregate: the store's
 * unique index decides it in the same transaction.
 */
import { validateActivities, type FieldProblem } from './activity.js';
import { describeIdentity, normaliseIdentity, sameIdentity } from './identity.js';
import {
  METRIC_KEYS,
  RECENT_ACTIVITY_LIMIT,
  type Activity,
  type ActivityInput,
  type CustomerCommand,
  type CustomerDecideContext,
  type CustomerDecision,
  type CustomerEffect,
  type CustomerError,
  type CustomerInput,
  type CustomerJournalEntry,
  type CustomerState,
  type Identity,
  type IdentityInput,
  type Influence,
  type Metric,
  type MetricKey,
  type Profile,
} from './types.js';

const PROFILE_FIELDS = ['name', 'segment', 'tier', 'locale'] as const;

class CustomerRejection extends Error {
  constructor(readonly error: CustomerError) {
    super(error.message);
  }
}

function reject(code: string, message: string, details?: Record<string, unknown>): never {
  throw new CustomerRejection(details ? { code, message, details } : { code, message });
}

function invalid(code: string, message: string, problems: FieldProblem[]): never {
  reject(code, message, { errors: problems });
}

interface Draft {
  ctx: CustomerDecideContext;
  now: string;
  reason: string | undefined;
  customer: CustomerState;
  effects: CustomerEffect[];
  journal: CustomerJournalEntry[];
  /** Changed top-level parts, for the one `customer.updated` event of the command. */
  changed: Set<string>;
}

function draftOf(state: CustomerState, ctx: CustomerDecideContext, reason: string | undefined): Draft {
  return { ctx, now: ctx.now.toISOString(), reason, customer: structuredClone(state), effects: [], journal: [], changed: new Set() };
}

function journal(d: Draft, type: string, data: Record<string, unknown>): void {
  const entry: CustomerJournalEntry = { type, actor: d.ctx.actor, data, at: d.now };
  if (d.reason !== undefined) entry.reason = d.reason;
  d.journal.push(entry);
}

function emit(d: Draft, type: string, data: Record<string, unknown>): void {
  d.effects.push({ type: 'outbox.emit', event: { id: d.ctx.newId(), type, data: { customerId: d.customer.id, ...data }, occurredAt: d.now } });
}

/** The empty customer a `customer.create` starts from (version 0; the decision makes it 1). */
export function newCustomer(id: string, now: string): CustomerState {
  return {
    id,
    status: 'active',
    externalIds: {},
    identities: [],
    profile: {},
    metrics: {},
    influence: {},
    activity: { counts: {}, last: {}, recent: [] },
    version: 0,
    createdAt: now,
    updatedAt: now,
  };
}

function finish(d: Draft, before: CustomerState): CustomerDecision {
  if (d.journal.length === 0) return { ok: true, customer: before, effects: [], journal: [] };
  d.customer.version = before.version + 1;
  d.customer.updatedAt = d.now;
  if (d.changed.size > 0 && before.version > 0) emit(d, 'customer.updated', { version: d.customer.version, changed: [...d.changed].sort() });
  return { ok: true, customer: d.customer, effects: d.effects, journal: d.journal };
}

function guard<T>(fn: () => T): T | { ok: false; error: CustomerError } {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CustomerRejection) return { ok: false, error: err.error };
    throw err;
  }
}

/**
 * Decides one command. `state` is undefined only for `customer.create`, whose new id is
 * `ctx.newId()` unless `id` is given (a case opened with a customer id nobody knows yet keeps it).
 */
export function decideCustomer(
  state: CustomerState | undefined,
  command: CustomerCommand,
  ctx: CustomerDecideContext,
  id?: string,
): CustomerDecision {
  return guard(() => {
    if (command.type === 'customer.create') {
      if (state) reject('VALIDATION_FAILED', `Customer ${state.id} exists already; update it instead`);
      const base = newCustomer(id ?? ctx.newId(), ctx.now.toISOString());
      const d = draftOf(base, ctx, command.reason);
      create(d, command.input);
      return finish(d, base);
    }
    if (!state) reject('CUSTOMER_NOT_FOUND', 'No such customer');
    if (state.status === 'merged') {
      reject('CUSTOMER_MERGED', `Customer ${state.id} was merged into ${state.mergedInto}; send changes to ${state.mergedInto}`, {
        merged_into: state.mergedInto,
      });
    }
    const d = draftOf(state, ctx, command.reason);
    switch (command.type) {
      case 'customer.update':
        if (command.profile) patchProfile(d, command.profile);
        if (command.metrics) setMetrics(d, command.metrics);
        if (command.influence) setInfluence(d, command.influence);
        if (command.externalIds) setExternalIds(d, command.externalIds);
        break;
      case 'customer.link_identity':
        linkIdentity(d, command.identity, '/identity');
        break;
      case 'customer.unlink_identity':
        unlinkIdentity(d, command.identityId);
        break;
      case 'customer.record_activity':
        recordActivity(d, command.activities);
        break;
    }
    return finish(d, state);
  }) as CustomerDecision;
}

function create(d: Draft, input: CustomerInput): void {
  journal(d, 'customer.created', {});
  if (input.profile) patchProfile(d, input.profile);
  if (input.metrics) setMetrics(d, input.metrics);
  if (input.influence) setInfluence(d, input.influence);
  if (input.externalIds) setExternalIds(d, input.externalIds);
  (input.identities ?? []).forEach((identity, n) => linkIdentity(d, identity, `/identities/${n}`));
  emit(d, 'customer.created', {
    ...(d.customer.profile.segment !== undefined ? { segment: d.customer.profile.segment } : {}),
    ...(d.customer.profile.tier !== undefined ? { tier: d.customer.profile.tier } : {}),
  });
}

function patchProfile(d: Draft, patch: { [K in keyof Profile]?: string | null }): void {
  const changes: Record<string, string | null> = {};
  for (const field of PROFILE_FIELDS) {
    const value = patch[field];
    if (value === undefined || value === (d.customer.profile[field] ?? null)) continue;
    if (value === null) delete d.customer.profile[field];
    else d.customer.profile[field] = value;
    changes[field] = value;
  }
  if (Object.keys(changes).length === 0) return;
  journal(d, 'customer.profile_updated', changes);
  d.changed.add('profile');
}

function setMetrics(d: Draft, metrics: Partial<Record<MetricKey, Metric | null>>): void {
  const changes: Record<string, Metric | null> = {};
  for (const key of METRIC_KEYS) {
    const metric = metrics[key];
    if (metric === undefined) continue;
    const current = d.customer.metrics[key];
    if (metric === null) {
      if (!current) continue;
      delete d.customer.metrics[key];
    } else {
      if (!Number.isFinite(metric.value)) invalid('VALIDATION_FAILED', `metrics.${key}.value must be a finite number`, [{ pointer: `/metrics/${snake(key)}/value`, detail: 'must be a finite number' }]);
      const next = { value: metric.value, asOf: new Date(metric.asOf).toISOString(), source: metric.source };
      if (current && current.value === next.value && current.asOf === next.asOf && current.source === next.source) continue;
      d.customer.metrics[key] = next;
    }
    changes[snake(key)] = metric === null ? null : d.customer.metrics[key]!;
  }
  if (Object.keys(changes).length === 0) return;
  journal(d, 'customer.metrics_updated', changes);
  d.changed.add('metrics');
}

function setInfluence(d: Draft, influence: Record<string, Influence | null>): void {
  const changes: Record<string, Influence | null> = {};
  for (const [channel, value] of Object.entries(influence)) {
    const current = d.customer.influence[channel];
    if (value === null) {
      if (!current) continue;
      delete d.customer.influence[channel];
      changes[channel] = null;
      continue;
    }
    const next: Influence = { asOf: new Date(value.asOf).toISOString() };
    if (value.followers !== undefined) next.followers = value.followers;
    if (value.reach !== undefined) next.reach = value.reach;
    if (current && JSON.stringify(current) === JSON.stringify(next)) continue;
    d.customer.influence[channel] = next;
    changes[channel] = next;
  }
  if (Object.keys(changes).length === 0) return;
  journal(d, 'customer.influence_updated', changes);
  d.changed.add('influence');
}

function setExternalIds(d: Draft, ids: Record<string, string | null>): void {
  const changes: Record<string, string | null> = {};
  for (const [system, externalId] of Object.entries(ids)) {
    const current = d.customer.externalIds[system];
    if (externalId === null) {
      if (current === undefined) continue;
      delete d.customer.externalIds[system];
      d.effects.push({ type: 'external_id.remove', system });
    } else {
      if (current === externalId) continue;
      if (current !== undefined) d.effects.push({ type: 'external_id.remove', system });
      d.customer.externalIds[system] = externalId;
      d.effects.push({ type: 'external_id.set', system, externalId });
    }
    changes[system] = externalId;
  }
  if (Object.keys(changes).length === 0) return;
  journal(d, 'customer.external_ids_updated', changes);
  d.changed.add('external_ids');
}

function linkIdentity(d: Draft, input: IdentityInput, pointer: string): void {
  const normal = normaliseIdentity(input);
  if (!normal.ok) {
    invalid('INVALID_IDENTITY', `The identity at ${pointer} is invalid: ${normal.field} ${normal.detail}`, [
      { pointer: `${pointer}/${normal.field}`, detail: normal.detail },
    ]);
  }
  if (d.customer.identities.some((i) => sameIdentity(i, normal.identity))) return;
  const identity: Identity = { id: d.ctx.newId(), ...normal.identity, addedAt: d.now };
  d.customer.identities.push(identity);
  d.effects.push({ type: 'identity.add', identity });
  journal(d, 'customer.identity_linked', { identityId: identity.id, kind: identity.kind, channel: identity.channel, value: identity.value });
  emit(d, 'customer.identity_linked', { identityId: identity.id, kind: identity.kind, ...(identity.channel ? { channel: identity.channel } : {}) });
  d.changed.add('identities');
}

function unlinkIdentity(d: Draft, identityId: string): void {
  const at = d.customer.identities.findIndex((i) => i.id === identityId);
  if (at < 0) reject('IDENTITY_NOT_FOUND', `Customer ${d.customer.id} has no identity ${identityId}; GET /v1/customers/${d.customer.id} lists them`);
  const [identity] = d.customer.identities.splice(at, 1);
  d.effects.push({ type: 'identity.remove', identityId });
  journal(d, 'customer.identity_unlinked', { identityId, kind: identity!.kind, channel: identity!.channel, value: identity!.value });
  emit(d, 'customer.identity_unlinked', { identityId, kind: identity!.kind });
  d.changed.add('identities');
}

function recordActivity(d: Draft, inputs: readonly ActivityInput[]): void {
  const checked = validateActivities(inputs, d.ctx.now, d.ctx.newId);
  if (!checked.ok) {
    invalid('INVALID_ACTIVITY', `The activity is malformed: ${checked.problems.map((p) => `${p.pointer} ${p.detail}`).join('; ')}`, checked.problems);
  }
  foldActivities(d.customer, checked.activities);
  for (const a of checked.activities) d.effects.push({ type: 'activity.add', activity: a });
  const kinds = [...new Set(checked.activities.map((a) => a.kind))].sort();
  journal(d, 'customer.activity_recorded', {
    count: checked.activities.length,
    kinds,
    activities: checked.activities.map((a) => ({ id: a.id, kind: a.kind, at: a.at, ...(a.amount !== undefined ? { amount: a.amount } : {}), ...(a.ref !== undefined ? { ref: a.ref } : {}) })),
  });
  emit(d, 'customer.activity_recorded', { count: checked.activities.length, kinds });
}

/** Counts, last time per kind, and the recent slice (newest first, bounded). */
export function foldActivities(customer: CustomerState, activities: readonly Activity[]): void {
  const summary = customer.activity;
  for (const a of activities) {
    summary.counts[a.kind] = (summary.counts[a.kind] ?? 0) + 1;
    const last = summary.last[a.kind];
    if (last === undefined || Date.parse(a.at) > Date.parse(last)) summary.last[a.kind] = a.at;
  }
  summary.recent = [...summary.recent, ...activities]
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.id < b.id ? 1 : -1))
    .slice(0, RECENT_ACTIVITY_LIMIT);
}

export type MergeDecision =
  | { ok: true; survivor: CustomerDecision & { ok: true }; merged: CustomerDecision & { ok: true } }
  | { ok: false; error: CustomerError };

/**
 * Merges `merged` into `survivor`: its identities, external ids and activity move to the
 * survivor (the store moves the rows, and the cases); profile fields and metrics the survivor
 * lacks are taken from it (the survivor's own win; for a metric, the newer as-of wins); the merged
 * one becomes a tombstone pointing at the survivor. Reason required.
 */
export function decideMerge(survivor: CustomerState, merged: CustomerState, ctx: CustomerDecideContext, reason: string): MergeDecision {
  return guard(() => {
    if (reason.trim() === '') reject('REASON_REQUIRED', 'A merge needs a reason (e.g. "same person: CRM duplicate")');
    if (survivor.id === merged.id) reject('MERGE_NOT_ALLOWED', 'A customer cannot be merged into itself; name another customer in "from"');
    for (const c of [survivor, merged]) {
      if (c.status === 'merged') {
        reject('CUSTOMER_MERGED', `Customer ${c.id} was already merged into ${c.mergedInto}; merge into ${c.mergedInto} instead`, { merged_into: c.mergedInto });
      }
    }
    const s = draftOf(survivor, ctx, reason);
    const m = draftOf(merged, ctx, reason);
    const conflicts = Object.entries(merged.externalIds).filter(([system, id]) => survivor.externalIds[system] !== undefined && survivor.externalIds[system] !== id);
    if (conflicts.length > 0) {
      reject(
        'MERGE_NOT_ALLOWED',
        `Both customers have an id in ${conflicts.map(([system]) => system).join(', ')} and they differ; remove one with PATCH first`,
        { errors: conflicts.map(([system]) => ({ pointer: `/external_ids/${system}`, detail: 'differs between the two customers' })) },
      );
    }
    // Identities and external ids move as rows (the store repoints them); the aggregates follow.
    const moved = merged.identities.filter((i) => !survivor.identities.some((own) => sameIdentity(own, i)));
    s.customer.identities.push(...moved);
    for (const [system, id] of Object.entries(merged.externalIds)) s.customer.externalIds[system] = id;
    for (const field of PROFILE_FIELDS) {
      if (s.customer.profile[field] === undefined && merged.profile[field] !== undefined) s.customer.profile[field] = merged.profile[field];
    }
    for (const key of METRIC_KEYS) {
      const theirs = merged.metrics[key];
      const own = s.customer.metrics[key];
      if (theirs && (!own || Date.parse(theirs.asOf) > Date.parse(own.asOf))) s.customer.metrics[key] = theirs;
    }
    for (const [channel, value] of Object.entries(merged.influence)) {
      const own = s.customer.influence[channel];
      if (!own || Date.parse(value.asOf) > Date.parse(own.asOf)) s.customer.influence[channel] = value;
    }
    for (const [kind, count] of Object.entries(merged.activity.counts)) {
      const k = kind as keyof typeof merged.activity.counts;
      s.customer.activity.counts[k] = (s.customer.activity.counts[k] ?? 0) + (count ?? 0);
      const theirs = merged.activity.last[k];
      const own = s.customer.activity.last[k];
      if (theirs && (!own || Date.parse(theirs) > Date.parse(own))) s.customer.activity.last[k] = theirs;
    }
    s.customer.activity.recent = [...s.customer.activity.recent, ...merged.activity.recent]
      .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
      .slice(0, RECENT_ACTIVITY_LIMIT);
    s.customer.mergedFrom = [...(s.customer.mergedFrom ?? []), merged.id];
    const summary = {
      identities: moved.map((i) => i.id),
      externalIds: Object.keys(merged.externalIds).sort(),
      activities: Object.values(merged.activity.counts).reduce((a, b) => a + (b ?? 0), 0),
    };
    journal(s, 'customer.merged_in', { from: merged.id, ...summary });
    emit(s, 'customer.merged', { from: merged.id, into: survivor.id });
    s.changed.add('merge');

    m.customer.status = 'merged';
    m.customer.mergedInto = survivor.id;
    m.customer.identities = [];
    m.customer.externalIds = {};
    m.customer.activity = { counts: {}, last: {}, recent: [] };
    journal(m, 'customer.merged_into', { into: survivor.id, ...summary });
    return { ok: true, survivor: finish(s, survivor) as CustomerDecision & { ok: true }, merged: finish(m, merged) as CustomerDecision & { ok: true } };
  }) as MergeDecision;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export { describeIdentity };
