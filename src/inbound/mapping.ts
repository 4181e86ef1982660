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
 * A mapping is an ordered list of rules; the first rule whose `when` holds and whose correlation
 * value evaluates to a string or number decides. A rule names
 * - `correlate`: which key finds the case (an external reference by name, the customer id or the
 *   customer handle) and the expression for its value;
 * - what to do with the case that key finds (an active case: open or on hold): `event` (sent to its
 *   fragments) and/or `attach` (content);
 * - `open_case`: when no active case has that key, open one from a template (an intake rule); the
 *   correlation key is set on the new case so later messages find it, and `attach` goes to it too.
 * No matching rule, or no case and no `open_case`: the message is unmatched (kept, listed, retryable).
 */
import jsonata from 'jsonata';
import { CONTENT_KINDS, PRIORITIES, type ContentKind, type OpenCaseInput, type Priority } from '../cases/types.js';
import { findUnstorableJson } from '../json/storable-json.js';
import { jsonataSandbox, type JsonataSandbox } from './jsonata-sandbox.js';

export const CORRELATE_BY = ['external_ref', 'customer_id', 'customer_handle'] as const;
export type CorrelateBy = (typeof CORRELATE_BY)[number];

/** A mapping as stored and as the API shows it. Fields marked JSONata are expressions; the others are literals. */
export interface MappingRule {
  name?: string;
  /** JSONata; the rule applies when it evaluates to `true`. Absent: always. */
  when?: string;
  correlate: { by: CorrelateBy; /** External reference name (for `external_ref`). */ ref?: string; /** JSONata. */ value: string };
  event?: { /** Literal event type sent to the case's fragments. */ type: string; /** JSONata producing an object. */ data?: string };
  attach?: { kind: ContentKind; /** JSONata producing an object. */ data: string };
  open_case?: {
    /** Literal template key (latest version). */
    template: string;
    /** JSONata producing the title. */
    title: string;
    /** JSONata producing one of the priorities. */
    priority?: string;
    queue?: string;
    /** JSONata producing objects. */
    case_file?: string;
    customer?: string;
    external_refs?: string;
  };
}

export interface Mapping {
  rules: MappingRule[];
}

export interface Correlation {
  by: CorrelateBy;
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
  openCase?: { template: string; input: OpenCaseInput };
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
  'correlate/value': (r: MappingRule) => r.correlate.value,
  'event/data': (r: MappingRule) => r.event?.data,
  'attach/data': (r: MappingRule) => r.attach?.data,
  'open_case/title': (r: MappingRule) => r.open_case?.title,
  'open_case/priority': (r: MappingRule) => r.open_case?.priority,
  'open_case/case_file': (r: MappingRule) => r.open_case?.case_file,
  'open_case/customer': (r: MappingRule) => r.open_case?.customer,
  'open_case/external_refs': (r: MappingRule) => r.open_case?.external_refs,
} as const;

/**
 * Checks what a schema cannot (expressions compile, templates exist, each rule does something)
 * and compiles. Every problem names its field.
 */
export function compileMapping(
  mapping: Mapping,
  options: { templateExists: (key: string) => boolean; sandbox?: JsonataSandbox },
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
    if (rule.correlate.by === 'external_ref' && !rule.correlate.ref) {
      problems.push({ pointer: `${pointer}/correlate/ref`, detail: 'is required when correlating by external_ref: name the reference, e.g. "order_id"' });
    }
    if (rule.correlate.by !== 'external_ref' && rule.correlate.ref !== undefined) {
      problems.push({ pointer: `${pointer}/correlate/ref`, detail: `applies only to by: external_ref; remove it for by: ${rule.correlate.by}` });
    }
    if (!rule.event && !rule.attach && !rule.open_case) {
      problems.push({ pointer, detail: 'does nothing: give it an event, attach or open_case' });
    }
    if (rule.open_case && !options.templateExists(rule.open_case.template)) {
      problems.push({ pointer: `${pointer}/open_case/template`, detail: `names no case template "${rule.open_case.template}"; GET /v1/templates lists them` });
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

  async function correlationOf(r: CompiledRule, payload: unknown, meta: WebhookMeta): Promise<Correlation | undefined> {
    if (r.rule.when !== undefined && (await evaluate(r, 'when', payload, meta)) !== true) return undefined;
    const raw = await evaluate(r, 'correlate/value', payload, meta);
    const value = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
    // A rule whose key is missing from this payload does not apply (the next rule may).
    if (!value || value.length > 500) return undefined;
    const { by, ref } = r.rule.correlate;
    return { by, ...(ref ? { ref } : {}), value, key: `${by}:${ref ?? ''}:${value}` };
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

  async function stringMapOf(r: CompiledRule, field: 'open_case/external_refs', payload: unknown, meta: WebhookMeta) {
    const value = await objectOf(r, field, payload, meta);
    if (!value) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new MappingError(`${r.pointer}/${field}`, `value of "${k}" must be a string`);
      out[k] = String(v);
    }
    return out;
  }

  async function openCaseOf(r: CompiledRule, correlation: Correlation, payload: unknown, meta: WebhookMeta) {
    const spec = r.rule.open_case!;
    const title = await evaluate(r, 'open_case/title', payload, meta);
    if (typeof title !== 'string' || title.trim() === '' || title.length > 300) {
      throw new MappingError(`${r.pointer}/open_case/title`, 'must produce a non-empty string of at most 300 characters');
    }
    const priority = await evaluate(r, 'open_case/priority', payload, meta);
    if (priority !== undefined && !PRIORITIES.includes(priority as Priority)) {
      throw new MappingError(`${r.pointer}/open_case/priority`, `must produce one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(priority)}`);
    }
    const customerValue = await objectOf(r, 'open_case/customer', payload, meta);
    const customer: NonNullable<OpenCaseInput['customer']> = {};
    for (const field of ['id', 'name', 'handle', 'email'] as const) {
      const v = customerValue?.[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw new MappingError(`${r.pointer}/open_case/customer`, `field "${field}" must be a string`);
      customer[field] = String(v);
    }
    const externalRefs = (await stringMapOf(r, 'open_case/external_refs', payload, meta)) ?? {};
    // The new case carries the key that found nothing, so the next message for it finds it.
    if (correlation.by === 'external_ref') externalRefs[correlation.ref!] = correlation.value;
    if (correlation.by === 'customer_id') customer.id = correlation.value;
    if (correlation.by === 'customer_handle') customer.handle = correlation.value;
    const caseFile = await objectOf(r, 'open_case/case_file', payload, meta);
    const input: OpenCaseInput = {
      title: title.trim(),
      ...(priority !== undefined ? { priority: priority as Priority } : {}),
      ...(spec.queue ? { queue: spec.queue } : {}),
      ...(Object.keys(customer).length > 0 ? { customer } : {}),
      externalRefs,
      ...(caseFile ? { caseFile } : {}),
    };
    return { template: spec.template, input };
  }

  const compiled: CompiledMapping = {
    mapping,
    async match(payload, meta) {
      for (const [i, r] of rules.entries()) {
        const correlation = await correlationOf(r, payload, meta);
        if (correlation) return { rule: i, correlation };
      }
      return undefined;
    },
    async plan(payload, meta) {
      for (const [i, r] of rules.entries()) {
        const correlation = await correlationOf(r, payload, meta);
        if (!correlation) continue;
        const { rule } = r;
        const eventData = rule.event ? await objectOf(r, 'event/data', payload, meta) : undefined;
        const attachData = rule.attach ? await objectOf(r, 'attach/data', payload, meta) : undefined;
        if (rule.attach && !attachData) throw new MappingError(`${r.pointer}/attach/data`, 'produced nothing; the content needs an object');
        return {
          rule: i,
          ...(rule.name ? { ruleName: rule.name } : {}),
          correlation,
          ...(rule.event ? { event: { type: rule.event.type, ...(eventData ? { data: eventData } : {}) } } : {}),
          ...(rule.attach && attachData ? { attach: { kind: rule.attach.kind, data: attachData } } : {}),
          ...(rule.open_case ? { openCase: await openCaseOf(r, correlation, payload, meta) } : {}),
        };
      }
      return undefined;
    },
  };
  return { ok: true, compiled };
}

export { CONTENT_KINDS };
