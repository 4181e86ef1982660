/**
 * A source's mapping: how a webhook payload becomes something a case understands. Pure (no I/O):
 * expressions are JSONata 2.2 (transforms over the payload; prototype reads are blocked), compiled
 * once when the mapping is written, evaluated against `{ payload }` with `$webhook` bound to
 * `{ id, source, timestamp }`.
 *
 * Every evaluation is bounded (jsonata-sandbox.ts: a worker thread, JSONATA_LIMITS): it stops
 * after 500 ms, 200 nested steps, a 1,000,000-character string, a 100,000-item sequence, 128 MB of
 * memory, or a result over 1 MiB of JSON, and is then a MappingError naming the field. Regular
 * expressions and functions (recursion included) are allowed, since the bounds stop them;
 * `$eval` is refused when the mapping is written (it would run code taken from the payload).
 *
 * A mapping only normalises; it never decides which case opens. It is an ordered list of rules;
 * the first rule whose `when` holds and whose key evaluates decides. A rule is one of two kinds:
 * - an *intake* rule (`intake`): the payload becomes a normalised intake event (intake-event.ts:
 *   kind, type, customer identity, content data, external refs) that the templates' intake rules
 *   (CEL, intake-rules.ts) decide on: open a case, attach to the customer's open case, or record
 *   it on the customer. Its key is the customer identity, so one customer's events apply in
 *   receipt order. A payload without any identity does not match the rule.
 * - a *case* rule (`correlate` + `event` and/or `attach`): the sender addresses an existing case by
 *   an external reference, the customer id or the customer handle; the newest active case with
 *   that key gets the event and/or the content. No such case: the message is unmatched (kept,
 *   listed, retryable).
 * `open_case` (mappings that opened cases themselves) was removed: a mapping that still has it
 * is refused when written, and a stored one fails its messages (kept, retryable) with a message
 * saying to move the decision into a template intake rule.
 */
import jsonata from 'jsonata';
import { CONTENT_KINDS, type ContentKind } from '../cases/types.js';
import { findUnstorableJson } from '../json/storable-json.js';
import { identityKey, INTAKE_KINDS, type CustomerIdentity, type IntakeEvent, type IntakeKind } from './intake-event.js';
import { jsonataSandbox, type JsonataSandbox } from './jsonata-sandbox.js';

export const CORRELATE_BY = ['external_ref', 'customer_id', 'customer_handle'] as const;
export type CorrelateBy = (typeof CORRELATE_BY)[number];

/** A mapping as stored and as the API shows it. Fields marked JSONata are expressions; the others are literals. */
export interface MappingRule {
  name?: string;
  /** JSONata; the rule applies when it evaluates to `true`. Absent: always. */
  when?: string;
  /** Case rules: which key finds the case. Absent on intake rules (their key is the customer identity). */
  correlate?: { by: CorrelateBy; /** External reference name (for `external_ref`). */ ref?: string; /** JSONata. */ value: string };
  event?: { /** Literal event type sent to the case's fragments. */ type: string; /** JSONata producing an object. */ data?: string };
  attach?: { kind: ContentKind; /** JSONata producing an object. */ data: string };
  /** Normalise into an intake event for the templates' intake rules (instead of correlate + event/attach). */
  intake?: {
    /** Literal kind of event. */
    kind: IntakeKind;
    /** Literal event type the templates' rules match on (`social.post.created`). */
    type: string;
    /** JSONata producing `{ channel?, handle?, email?, external_id?, name? }`: who it is about. */
    customer: string;
    /** JSONata producing the content data (an object). */
    data?: string;
    /** JSONata producing `{ name: value }`: references the sender knows this by (`post_id`). */
    external_refs?: string;
  };
  /** Removed: kept in the type only so a stored mapping using it is refused with a message. */
  open_case?: unknown;
}

export interface Mapping {
  rules: MappingRule[];
}

export interface Correlation {
  /** `identity`: an intake rule's key (the customer identity, intake-event.ts identityKey). */
  by: CorrelateBy | 'identity';
  ref?: string;
  value: string;
  /** `<by>:<ref>:<value>`: rows with the same key are applied in receipt order. */
  key: string;
}

/** What one message asks for, once the mapping evaluated it. */
export interface Plan {
  rule: number;
  ruleName?: string;
  correlation: Correlation;
  event?: { type: string; data?: Record<string, unknown> };
  attach?: { kind: ContentKind; data: Record<string, unknown> };
  /** An intake rule's normalised event (then no event / attach). */
  intake?: IntakeEvent;
}

export interface MappingProblem {
  /** JSON pointer into the mapping, e.g. `/rules/0/when`. */
  pointer: string;
  detail: string;
}

/**
 * A mapping expression failed, hit a bound, or produced something a case cannot take; the
 * message fails (retryable). `limit`: it was stopped by a bound (time, depth, memory, size).
 */
export class MappingError extends Error {
  override name = 'MappingError';
  constructor(
    readonly pointer: string,
    message: string,
    readonly limit = false,
  ) {
    super(`${pointer} ${message}`);
  }
}

export interface WebhookMeta {
  id: string;
  source: string;
  /** ISO time from webhook-timestamp. */
  timestamp: string;
}

interface CompiledRule {
  rule: MappingRule;
  pointer: string;
  /** Field -> JSONata source (parsed and checked; evaluated in the sandbox). */
  expressions: Map<string, string>;
}

/** Names a mapping may not use, and why. */
const FORBIDDEN_VARIABLES: Record<string, string> = {
  eval: '$eval is not allowed: it would run code taken from the payload; write the transform in the mapping itself',
};

/** The first forbidden `$name` the parsed expression mentions (walks the whole AST). */
function forbiddenVariable(ast: unknown): string | undefined {
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    const n = node as { type?: unknown; value?: unknown };
    if (n.type === 'variable' && typeof n.value === 'string' && Object.hasOwn(FORBIDDEN_VARIABLES, n.value)) return FORBIDDEN_VARIABLES[n.value];
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return undefined;
}

export interface CompiledMapping {
  readonly mapping: Mapping;
  /** The first rule that applies and its correlation; undefined when none does. */
  match(payload: unknown, meta: WebhookMeta): Promise<{ rule: number; correlation: Correlation } | undefined>;
  /** Everything the message asks for. Throws MappingError when an expression yields a bad value. */
  plan(payload: unknown, meta: WebhookMeta): Promise<Plan | undefined>;
}

const EXPRESSION_FIELDS = {
  when: (r: MappingRule) => r.when,
  'correlate/value': (r: MappingRule) => r.correlate?.value,
  'event/data': (r: MappingRule) => r.event?.data,
  'attach/data': (r: MappingRule) => r.attach?.data,
  'intake/customer': (r: MappingRule) => r.intake?.customer,
  'intake/data': (r: MappingRule) => r.intake?.data,
  'intake/external_refs': (r: MappingRule) => r.intake?.external_refs,
} as const;

/**
 * Checks what a schema cannot (expressions compile, each rule is an intake rule or a case rule
 * that does something, no `open_case`) and compiles. Every problem names its field.
 */
export function compileMapping(
  mapping: Mapping,
  options: { sandbox?: JsonataSandbox } = {},
): { ok: true; compiled: CompiledMapping } | { ok: false; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const rules: CompiledRule[] = mapping.rules.map((rule, i) => {
    const pointer = `/rules/${i}`;
    const expressions = new Map<string, string>();
    for (const [field, read] of Object.entries(EXPRESSION_FIELDS)) {
      const source = read(rule);
      if (source === undefined) continue;
      try {
        // Parsing is linear in the source (at most 2,000 characters); only evaluation is sandboxed.
        const forbidden = forbiddenVariable(jsonata(source).ast());
        if (forbidden !== undefined) problems.push({ pointer: `${pointer}/${field}`, detail: forbidden });
        else expressions.set(field, source);
      } catch (err) {
        const e = err as { message?: string; position?: number };
        problems.push({ pointer: `${pointer}/${field}`, detail: `is not a valid JSONata expression: ${e.message ?? 'syntax error'}${e.position !== undefined ? ` (at character ${e.position})` : ''}` });
      }
    }
    if (rule.open_case !== undefined) {
      problems.push({
        pointer: `${pointer}/open_case`,
        detail:
          'was removed: a mapping only normalises the payload. Give the rule an `intake` block (kind, type, customer, data) and let a template intake rule decide (action: open, with priority and queue); see case-templates/README.md "Intake rules"',
      });
    }
    if (rule.intake) {
      if (rule.correlate) problems.push({ pointer: `${pointer}/correlate`, detail: 'does not go with intake: an intake event is keyed by its customer identity and threaded by the template rule\'s threadBy; remove correlate' });
      if (rule.event || rule.attach) problems.push({ pointer: `${pointer}/${rule.event ? 'event' : 'attach'}`, detail: 'does not go with intake: the template intake rule decides what the event does; put the content in intake.data' });
      if (!(INTAKE_KINDS as readonly string[]).includes(rule.intake.kind)) {
        problems.push({ pointer: `${pointer}/intake/kind`, detail: `must be one of ${INTAKE_KINDS.join(', ')}` });
      }
    } else if (!rule.correlate) {
      problems.push({ pointer, detail: 'needs either intake (normalise into an intake event) or correlate with event and/or attach (address an existing case)' });
    } else {
      if (rule.correlate.by === 'external_ref' && !rule.correlate.ref) {
        problems.push({ pointer: `${pointer}/correlate/ref`, detail: 'is required when correlating by external_ref: name the reference, e.g. "order_id"' });
      }
      if (rule.correlate.by !== 'external_ref' && rule.correlate.ref !== undefined) {
        problems.push({ pointer: `${pointer}/correlate/ref`, detail: `applies only to by: external_ref; remove it for by: ${rule.correlate.by}` });
      }
      if (!rule.event && !rule.attach) {
        problems.push({ pointer, detail: 'does nothing: give it an event or attach (or make it an intake rule)' });
      }
    }
    return { rule, pointer, expressions };
  });
  if (problems.length > 0) return { ok: false, problems };
  const sandbox = options.sandbox ?? jsonataSandbox();

  async function evaluate(r: CompiledRule, field: keyof typeof EXPRESSION_FIELDS, payload: unknown, meta: WebhookMeta): Promise<unknown> {
    const source = r.expressions.get(field);
    if (source === undefined) return undefined;
    // The sandbox hands back plain JSON (sequences' extra properties and functions dropped).
    const result = await sandbox.evaluate(source, payload, { webhook: meta });
    if (!result.ok) {
      const pointer = `${r.pointer}/${field}`;
      const named = r.rule.name ? ` (rule "${r.rule.name}")` : '';
      throw new MappingError(pointer, result.limit ? `was stopped${named}: ${result.message}` : `failed${named}: ${result.message}`, result.limit);
    }
    return result.value;
  }

  async function correlationOf(r: CompiledRule, payload: unknown, meta: WebhookMeta): Promise<{ correlation: Correlation; identity?: CustomerIdentity } | undefined> {
    if (r.rule.when !== undefined && (await evaluate(r, 'when', payload, meta)) !== true) return undefined;
    if (r.rule.intake) {
      const identity = await identityOf(r, payload, meta);
      const key = identity ? identityKey(identity) : undefined;
      // No identity in this payload: the rule does not apply (the next rule may).
      if (!key || key.length > 500) return undefined;
      return { correlation: { by: 'identity', value: key, key: `identity::${key}` }, identity: identity! };
    }
    const raw = await evaluate(r, 'correlate/value', payload, meta);
    const value = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
    // A rule whose key is missing from this payload does not apply (the next rule may).
    if (!value || value.length > 500) return undefined;
    const { by, ref } = r.rule.correlate!;
    return { correlation: { by, ...(ref ? { ref } : {}), value, key: `${by}:${ref ?? ''}:${value}` } };
  }

  async function identityOf(r: CompiledRule, payload: unknown, meta: WebhookMeta): Promise<CustomerIdentity | undefined> {
    const value = await evaluate(r, 'intake/customer', payload, meta);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw new MappingError(`${r.pointer}/intake/customer`, `must produce an object, got ${JSON.stringify(value)}`);
    const out: CustomerIdentity = {};
    const fields = { channel: 'channel', handle: 'handle', email: 'email', external_id: 'externalId', name: 'name' } as const;
    for (const [wire, field] of Object.entries(fields)) {
      const v = (value as Record<string, unknown>)[wire];
      if (v === undefined || v === null || v === '') continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw new MappingError(`${r.pointer}/intake/customer`, `field "${wire}" must be a string`);
      const text = String(v).trim();
      if (text.length > 300) throw new MappingError(`${r.pointer}/intake/customer`, `field "${wire}" is longer than 300 characters`);
      if (text !== '') out[field] = text;
    }
    return out;
  }

  async function objectOf(r: CompiledRule, field: keyof typeof EXPRESSION_FIELDS, payload: unknown, meta: WebhookMeta) {
    const value = await evaluate(r, field, payload, meta);
    if (value === undefined) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new MappingError(`${r.pointer}/${field}`, `must produce an object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
    }
    const unstorable = findUnstorableJson(value);
    if (unstorable) throw new MappingError(`${r.pointer}/${field}`, `produced a value that ${unstorable.detail} at ${unstorable.pointer}`);
    return value as Record<string, unknown>;
  }

  async function stringMapOf(r: CompiledRule, field: 'intake/external_refs', payload: unknown, meta: WebhookMeta) {
    const value = await objectOf(r, field, payload, meta);
    if (!value) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw new MappingError(`${r.pointer}/${field}`, `value of "${k}" must be a string`);
      out[k] = String(v);
    }
    return out;
  }

  const compiled: CompiledMapping = {
    mapping,
    async match(payload, meta) {
      for (const [i, r] of rules.entries()) {
        const found = await correlationOf(r, payload, meta);
        if (found) return { rule: i, correlation: found.correlation };
      }
      return undefined;
    },
    async plan(payload, meta) {
      for (const [i, r] of rules.entries()) {
        const found = await correlationOf(r, payload, meta);
        if (!found) continue;
        const { rule } = r;
        const base = { rule: i, ...(rule.name ? { ruleName: rule.name } : {}), correlation: found.correlation };
        if (rule.intake) {
          const data = (await objectOf(r, 'intake/data', payload, meta)) ?? {};
          const externalRefs = (await stringMapOf(r, 'intake/external_refs', payload, meta)) ?? {};
          return {
            ...base,
            intake: { source: meta.source, kind: rule.intake.kind, type: rule.intake.type, customer: found.identity!, data, externalRefs },
          };
        }
        const eventData = rule.event ? await objectOf(r, 'event/data', payload, meta) : undefined;
        const attachData = rule.attach ? await objectOf(r, 'attach/data', payload, meta) : undefined;
        if (rule.attach && !attachData) throw new MappingError(`${r.pointer}/attach/data`, 'produced nothing; the content needs an object');
        return {
          ...base,
          ...(rule.event ? { event: { type: rule.event.type, ...(eventData ? { data: eventData } : {}) } } : {}),
          ...(rule.attach && attachData ? { attach: { kind: rule.attach.kind, data: attachData } } : {}),
        };
      }
      return undefined;
    },
  };
  return { ok: true, compiled };
}

export { CONTENT_KINDS };
