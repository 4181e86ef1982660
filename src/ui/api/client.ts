/**
 * The one way the browser talks to Tessera: the public REST API, same origin, with the session
 * cookie. Every write carries the session's CSRF token; every failure becomes an `ApiError`
 * holding the server's problem+json (RFC 9457), so screens show the server's own words.
 */

/** RFC 9457 problem details as Tessera sends them; validation errors name the field. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { pointer: string; detail: string }[];
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
  get status(): number {
    return this.problem.status;
  }
  /** Field errors keyed by JSON pointer (`/output/amount`), the server's detail as the value. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem.errors ?? []) out[e.pointer] = out[e.pointer] ? `${out[e.pointer]}; ${e.detail}` : e.detail;
    return out;
  }
  /** A write met a newer version of the object (If-Match): reload, never overwrite. */
  get stale(): boolean {
    return this.status === 412;
  }
}

export interface ApiResponse<T> {
  status: number;
  data: T;
  /** `"v<version>"` on cases: send it back as If-Match. */
  etag: string | undefined;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  /** The version the screen showed; a newer one answers 412 instead of being overwritten. */
  ifMatch?: string | number | undefined;
  signal?: AbortSignal;
}

let csrfToken: string | undefined;
const unauthorizedListeners = new Set<() => void>();
const failureListeners = new Set<(method: string, status: number | undefined) => void>();

/**
 * Called when a request gets no answer (`status` undefined) or a 5xx: what no field can show.
 * 4xx answers are the screen's to show, at the field or next to the control.
 */
export function onRequestFailure(listener: (method: string, status: number | undefined) => void): () => void {
  failureListeners.add(listener);
  return () => failureListeners.delete(listener);
}

/** Set by the session module after sign-in or `GET /v1/sessions/current`. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the server answers 401 (the session ended): the shell shows sign-in. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function withQuery(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  if (options.ifMatch !== undefined) headers['if-match'] = typeof options.ifMatch === 'number' ? `"v${options.ifMatch}"` : options.ifMatch;
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal) init.signal = options.signal;
  let res: Response;
  try {
    res = await fetch(withQuery(path, options.query), init);
  } catch (err) {
    // Aborted on purpose: not a failure to report.
    if (!(err instanceof DOMException && err.name === 'AbortError')) failureListeners.forEach((l) => l(method, undefined));
    throw err;
  }
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const problem: Problem = data && typeof data === 'object' ? { ...(data as Problem), status: res.status } : { status: res.status, title: res.statusText };
    if (res.status === 401 && !path.startsWith('/v1/sessions')) unauthorizedListeners.forEach((l) => l());
    if (res.status >= 500) failureListeners.forEach((l) => l(method, res.status));
    throw new ApiError(problem);
  }
  return { status: res.status, data: data as T, etag: res.headers.get('etag') ?? undefined };
}

export const api = {
  get: async <T>(path: string, options?: RequestOptions) => (await request<T>('GET', path, options)).data,
  post: async <T>(path: string, body: unknown = {}, options?: RequestOptions) => (await request<T>('POST', path, { ...options, body })).data,
  put: async <T>(path: string, body: unknown, options?: RequestOptions) => (await request<T>('PUT', path, { ...options, body })).data,
  patch: async <T>(path: string, body: unknown, options?: RequestOptions) => (await request<T>('PATCH', path, { ...options, body })).data,
  del: async <T>(path: string, options?: RequestOptions) => (await request<T>('DELETE', path, options)).data,
};

/** A list endpoint's page (`?limit=&cursor=`). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
