/**
 * A work budget for one CEL evaluation (cel-js has no cost limit of its own).
 *
 * CEL is synchronous, so nothing can interrupt an evaluation from outside; instead the data an
 * expression reads is charged as it is read. The scope's objects are handed to cel-js behind
 * read-only proxies that charge every field read (1 unit); a string read costs 1 + length/16
 * units, and a list read costs its whole deep size (elements, nested fields, string lengths),
 * because cel-js walks lists natively (`in`, `==`, `+`, comprehensions) where no proxy would see
 * it. Every read of a list, a string or a map's keys is multiplied by the expression's `weight`
 * (its number of syntax nodes), so the budget bounds what the expression does with what it read
 * (a comprehension evaluates its body once per element; `in`, `==` and `+` walk their operands),
 * not only the reads.
 * When the budget is spent the read throws ExpressionLimitError and the evaluation stops.
 *
 * So `caseFile.l.all(x, x in caseFile.l)` pays size(l) on every iteration (quadratic charge for
 * quadratic work) and `caseFile.l.map(x, caseFile.l + caseFile.l)` pays for every copy before it
 * is made. Values an expression builds from literals alone are bounded by the source limits.
 *
 * Lists are charged whole and returned as they are (unproxied, so native speed); their deep size
 * is cached per list object: the engine replaces case-file values, it never edits a list in
 * place (the cached length is re-checked all the same).
 */
import { TesseraError } from '../errors.js';

/** Thrown when an evaluation spends its budget; the evaluation is abandoned. */
export class ExpressionLimitError extends TesseraError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('EXPRESSION_LIMIT', message, details);
    this.name = 'ExpressionLimitError';
  }
}

export interface Meter {
  /** Units left; negative once spent. */
  readonly left: number;
  /** Set once the budget is spent, even when CEL absorbed the error (`error || true` is true). */
  readonly spent: ExpressionLimitError | undefined;
  /** The scope value behind a charging, read-only proxy (scalars as they are). */
  wrap(value: unknown): unknown;
  /**
   * Runs one evaluation with this meter charging reads; afterwards it charges nothing (the
   * result may hold proxies that are read later).
   */
  run<T>(evaluate: () => T): T;
}

/** What a proxy stands for. */
class Holder {
  constructor(readonly real: object) {}
}

/**
 * The meter of the evaluation running now. Evaluations are synchronous and CEL cannot call
 * back into Tessera, so there is at most one (a stack for safety); proxies can then be shared
 * across evaluations (cel-js caches type checks per object, so a fresh proxy per read costs µs).
 * A proxy read outside any evaluation (a result being converted) charges nothing.
 */
let active: MeterImpl | undefined;
const proxies = new WeakMap<object, object>();

function proxyOf(value: object): object {
  let proxy = proxies.get(value);
  if (proxy === undefined) {
    proxy = new Proxy(new Holder(value), handler);
    proxies.set(value, proxy);
  }
  return proxy;
}

const sizes = new WeakMap<readonly unknown[], { length: number; size: number }>();

/** Deep size of a JSON-like value in budget units, counted up to `cap` (then `cap` + 1). */
function deepSize(root: unknown, cap: number): number {
  let size = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    size += typeof value === 'string' ? 1 + (value.length >> 4) : 1;
    if (size > cap) return cap + 1;
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
    } else if (value instanceof Map) {
      for (const item of value.values()) stack.push(item);
    } else {
      for (const key in value) if (Object.hasOwn(value, key)) stack.push((value as Record<string, unknown>)[key]);
    }
  }
  return size;
}

function listSize(list: readonly unknown[], cap: number): number {
  const cached = sizes.get(list);
  if (cached !== undefined && cached.length === list.length) return cached.size;
  const size = deepSize(list, cap);
  // A walk cut short at `cap` is not the size: not cached (the next evaluation has a full budget).
  if (size <= cap) sizes.set(list, { length: list.length, size });
  return size;
}

// One handler for every proxy (no closures per evaluation: a guard is evaluated on every read).
const handler: ProxyHandler<Holder> = {
  get(target, key) {
    const real = target.real as Record<string | symbol, unknown>;
    // cel-js dispatches on the constructor at every access; reading it is not data.
    if (key === 'constructor' || typeof key === 'symbol') return real[key];
    const value = real[key];
    return active === undefined ? passive(value) : active.read(value);
  },
  has(target, key) {
    active?.charge(1);
    return Reflect.has(target.real, key);
  },
  getOwnPropertyDescriptor(target, key) {
    const real = target.real;
    const descriptor = Reflect.getOwnPropertyDescriptor(real, key);
    if (descriptor === undefined) return undefined;
    active?.charge(1);
    // Configurable: the holder behind the proxy does not have the key (proxy invariants).
    return { value: (real as Record<string | symbol, unknown>)[key], writable: false, enumerable: descriptor.enumerable ?? true, configurable: true };
  },
  ownKeys(target) {
    active?.charge(0);
    const keys = Reflect.ownKeys(target.real);
    // Listing keys is how a comprehension ranges over a map: weighted like a list.
    active?.charge(active.weight * keys.length);
    return keys;
  },
  getPrototypeOf: (target) => Reflect.getPrototypeOf(target.real),
  set: () => false,
  defineProperty: () => false,
  deleteProperty: () => false,
  setPrototypeOf: () => false,
};

class MeterImpl implements Meter {
  left: number;
  private open = true;
  spent: ExpressionLimitError | undefined;

  constructor(
    private readonly budget: number,
    readonly weight: number,
    private readonly describe: () => string,
  ) {
    this.left = budget;
  }

  // Once spent, every further read throws the same error: cel-js's all()/exists() catch errors
  // of one iteration and go on with the next, so a single throw would not stop them.
  charge(units: number): void {
    if (!this.open) return;
    if (this.spent !== undefined) throw this.spent;
    this.left -= units;
    if (this.left >= 0) return;
    this.spent ??= new ExpressionLimitError(
      `The expression "${this.describe()}" stopped: it reads more case data than one evaluation may (${this.budget} units: ` +
        'a field read is 1, a list or a string costs its size times the size of the expression, on every read). ' +
        'Keep a summary in the case file (a count, a flag, a map for membership) instead of scanning lists repeatedly.',
      { budget: this.budget },
    );
    throw this.spent;
  }

  read(value: unknown): unknown {
    if (typeof value === 'string') {
      this.charge(this.weight * (1 + (value.length >> 4)));
      return value;
    }
    if (typeof value !== 'object' || value === null) {
      this.charge(1);
      return value;
    }
    if (Array.isArray(value)) {
      this.charge(0);
      this.charge(this.weight * listSize(value, Math.ceil(this.left / this.weight)));
      return value;
    }
    this.charge(1);
    return proxyOf(value);
  }

  wrap(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return this.read(value);
    return proxyOf(value);
  }

  run<T>(evaluate: () => T): T {
    const outer = active;
    active = this;
    try {
      return evaluate();
    } finally {
      active = outer;
      this.open = false;
    }
  }
}

/** Nested objects stay behind proxies so every read is seen; lists are plain (charged when read). */
function passive(value: unknown): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? proxyOf(value) : value;
}

/**
 * A meter of `budget` units for one evaluation of an expression of `weight` (≥ 1).
 * `describe` names the expression in the error.
 */
export function createMeter(budget: number, weight: number, describe: () => string): Meter {
  return new MeterImpl(budget, weight, describe);
}
