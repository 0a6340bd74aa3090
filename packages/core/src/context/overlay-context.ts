/**
 * A light immutable `Context`: a few values over a parent context. The API's own context copies
 * its whole Map and allocates three closures on every `setValue`; an inbound request's context
 * takes several values in a row (the remote span, the baggage, then the SDK's server span), and
 * those copies showed up as a measurable share of ctxprop's per-request cost
 * (bench/fastify.bench.mjs). Reads, writes and deletes behave exactly as on the API's context
 * (test/overlay-context.test.ts compares them on random operation sequences).
 */
import type { Context } from '@opentelemetry/api';

/** Marks a key deleted in this layer, hiding the parent's value. */
const DELETED = Symbol('ctxprop.context.deleted');

/** More values than this and the overlay becomes an API context (one copy), so reads stay short. */
const MAX_OWN_VALUES = 8;

class OverlayContext implements Context {
  readonly #parent: Context;
  readonly #keys: readonly symbol[];
  readonly #values: readonly unknown[];

  constructor(parent: Context, keys: readonly symbol[], values: readonly unknown[]) {
    this.#parent = parent;
    this.#keys = keys;
    this.#values = values;
  }

  getValue(key: symbol): unknown {
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        const value = this.#values[i];
        return value === DELETED ? undefined : value;
      }
    }
    return this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.#with(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.#with(key, DELETED);
  }

  #with(key: symbol, value: unknown): Context {
    const index = this.#keys.indexOf(key);
    if (index >= 0) {
      const values = this.#values.slice();
      values[index] = value;
      return new OverlayContext(this.#parent, this.#keys, values);
    }
    if (this.#keys.length < MAX_OWN_VALUES) {
      return new OverlayContext(this.#parent, [...this.#keys, key], [...this.#values, value]);
    }
    // Fold this layer into the parent: the API context then holds everything.
    let folded = this.#parent;
    for (let i = 0; i < this.#keys.length; i++) {
      const own = this.#values[i];
      folded = own === DELETED ? folded.deleteValue(this.#keys[i]!) : folded.setValue(this.#keys[i]!, own);
    }
    return value === DELETED ? folded.deleteValue(key) : folded.setValue(key, value);
  }
}

/** One value over a parent: the common case (a remote span, a baggage), in one allocation. */
class OneValueContext implements Context {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  constructor(parent: Context, key: symbol, value: unknown) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  getValue(key: symbol): unknown {
    return key === this.#key ? this.#value : this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    if (key === this.#key) return new OneValueContext(this.#parent, key, value);
    return new OverlayContext(this.#parent, [this.#key, key], [this.#value, value]);
  }

  deleteValue(key: symbol): Context {
    if (key === this.#key) return new OverlayContext(this.#parent, [key], [DELETED]);
    return new OverlayContext(this.#parent, [this.#key, key], [this.#value, DELETED]);
  }
}

/**
 * `parent.setValue(key, value)`, without copying the parent.
 *
 * @example
 * ```ts
 * const ctx = overlayContext(ROOT_CONTEXT, SPAN_KEY, span); // reads like trace.setSpan(ROOT_CONTEXT, span)
 * ```
 */
export function overlayContext(parent: Context, key: symbol, value: unknown): Context {
  return new OneValueContext(parent, key, value);
}
