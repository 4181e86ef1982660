/**
 * A form rendered from a task's JSON Schema (the subset task forms use: objects of strings,
 * numbers, integers, booleans, enums, nested objects, arrays of scalars). The browser does not
 * validate beyond types: the server's 422 `errors[] {pointer, detail}` is shown at the field,
 * so there is one set of rules. Every field has a label, its error is tied to it
 * (aria-describedby, aria-invalid), and the first invalid field gets the focus.
 */
import { useEffect, useRef } from 'preact/hooks';
import type { JsonSchema } from '../types';

export type FormValues = Record<string, unknown>;

const typeOf = (s: JsonSchema): string => (Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? 'string') : (s.type ?? (s.enum ? 'string' : s.properties ? 'object' : 'string')));

/** Turns the raw inputs (strings, booleans) into the JSON the schema describes; empty optional fields are left out. */
export function toOutput(schema: JsonSchema, raw: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const v = raw[key];
    const t = typeOf(prop);
    if (t === 'object') {
      const nested = toOutput(prop, (v as FormValues) ?? {});
      if (Object.keys(nested).length > 0) out[key] = nested;
      continue;
    }
    if (t === 'boolean') {
      if (v !== undefined) out[key] = v === true;
      continue;
    }
    if (v === undefined || v === '') continue;
    const s = String(v);
    if (t === 'number' || t === 'integer') {
      const n = Number(s);
      // Not a number: send the text, so the server says what is wrong at this field.
      out[key] = s.trim() !== '' && Number.isFinite(n) ? n : s;
    } else if (t === 'array') {
      out[key] = s
        .split(/[\n,]/)
        .map((x) => x.trim())
        .filter(Boolean);
    } else out[key] = s;
  }
  return out;
}

interface Props {
  schema: JsonSchema;
  idPrefix: string;
  values: FormValues;
  onChange: (values: FormValues) => void;
  /** JSON pointer (relative to the form's object, e.g. `/amount`) -> the server's message. */
  errors: Record<string, string>;
  pointer?: string;
}

export function SchemaFields({ schema, idPrefix, values, onChange, errors, pointer = '' }: Props) {
  const required = new Set(schema.required ?? []);
  return (
    <div class="form-grid">
      {Object.entries(schema.properties ?? {}).map(([key, prop]) => {
        const id = `${idPrefix}-${key}`;
        const ptr = `${pointer}/${key}`;
        const t = typeOf(prop);
        const err = errors[ptr];
        const label = prop.title ?? key;
        const help = prop.description;
        const describedBy = [err ? `${id}-error` : '', help ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
        const set = (v: unknown) => onChange({ ...values, [key]: v });
        if (t === 'object') {
          return (
            <fieldset key={key}>
              <legend>{label}</legend>
              <SchemaFields schema={prop} idPrefix={id} values={(values[key] as FormValues) ?? {}} onChange={(v) => set(v)} errors={errors} pointer={ptr} />
              {err ? <p class="field-error" id={`${id}-error`}>{err}</p> : null}
            </fieldset>
          );
        }
        let input;
        if (t === 'boolean') {
          input = <input id={id} type="checkbox" checked={values[key] === true} aria-invalid={err ? 'true' : undefined} aria-describedby={describedBy} onChange={(e) => set(e.currentTarget.checked)} />;
        } else if (prop.enum) {
          input = (
            <select id={id} value={String(values[key] ?? '')} aria-invalid={err ? 'true' : undefined} aria-describedby={describedBy} aria-required={required.has(key)} onChange={(e) => set(e.currentTarget.value)}>
              <option value="">—</option>
              {prop.enum.map((o) => (
                <option value={String(o)} key={String(o)}>
                  {String(o)}
                </option>
              ))}
            </select>
          );
        } else if (t === 'array' || (t === 'string' && (prop.maxLength ?? 0) > 200)) {
          input = <textarea id={id} rows={3} value={String(values[key] ?? '')} aria-invalid={err ? 'true' : undefined} aria-describedby={describedBy} aria-required={required.has(key)} onInput={(e) => set(e.currentTarget.value)} />;
        } else {
          input = (
            <input
              id={id}
              type="text"
              inputMode={t === 'number' || t === 'integer' ? 'decimal' : undefined}
              value={String(values[key] ?? '')}
              aria-invalid={err ? 'true' : undefined}
              aria-describedby={describedBy}
              aria-required={required.has(key)}
              onInput={(e) => set(e.currentTarget.value)}
            />
          );
        }
        return (
          <div class="field" key={key}>
            <label for={id}>
              {label}
              {required.has(key) ? <span aria-hidden="true"> *</span> : null}
              {t === 'number' || t === 'integer' ? <span class="muted"> ({t})</span> : null}
            </label>
            {input}
            {help ? (
              <span class="help" id={`${id}-help`}>
                {help}
              </span>
            ) : null}
            {err ? (
              <p class="field-error" id={`${id}-error`} data-pointer={ptr}>
                {err}
              </p>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}

/** Focuses the first field marked invalid inside `root` whenever `errors` changes. */
export function useFocusFirstInvalid(root: { current: HTMLElement | null }, errors: Record<string, string>): void {
  const last = useRef('');
  useEffect(() => {
    const key = JSON.stringify(errors);
    if (key === last.current) return;
    last.current = key;
    root.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [errors, root]);
}

/** Server pointers come as `/output/amount` (the request body) or `/amount` (the form's object): key them by the latter. */
export function formErrors(all: Record<string, string>, bodyPrefix = '/output'): { fields: Record<string, string>; other: string[] } {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const [ptr, detail] of Object.entries(all)) {
    const p = ptr.startsWith(bodyPrefix + '/') ? ptr.slice(bodyPrefix.length) : ptr;
    if (p && p !== '/' && p !== bodyPrefix) fields[p] = detail;
    else other.push(detail);
  }
  return { fields, other };
}
