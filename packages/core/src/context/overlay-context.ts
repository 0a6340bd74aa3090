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

/**
 * What the three layer shapes share: a set and a delete are both "this layer plus one value"
 * (a delete writes {@link DELETED}), which each shape makes in its own way.
 */
abstract class LayerContext implements Context {
  abstract getValue(key: symbol): unknown;

  /** A new layer: this one with `key` set to `value` (or to {@link DELETED}). */
  protected abstract with(key: symbol, value: unknown): Context;

  setValue(key: symbol, value: unknown): Context {
    return this.with(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.with(key, DELETED);
  }
}

/** Up to {@link MAX_OWN_VALUES} values over a parent, in two arrays. */
class OverlayContext extends LayerContext {
  readonly #parent: Context;
  readonly #keys: readonly symbol[];
  readonly #values: readonly unknown[];

  constructor(parent: Context, keys: readonly symbol[], values: readonly unknown[]) {
    super();
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

  protected with(key: symbol, value: unknown): Context {
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
class OneValueContext extends LayerContext {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  constructor(parent: Context, key: symbol, value: unknown) {
    super();
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  getValue(key: symbol): unknown {
    if (key !== this.#key) return this.#parent.getValue(key);
    return this.#value === DELETED ? undefined : this.#value;
  }

  protected with(key: symbol, value: unknown): Context {
    if (key === this.#key) return new OneValueContext(this.#parent, key, value);
    return new TwoValueContext(this.#parent, this.#key, this.#value, key, value);
  }
}

/**
 * Two values over a parent, in one allocation: an inbound request's extracted context (the
 * remote span, then the baggage) without the two arrays of an {@link OverlayContext}.
 */
class TwoValueContext extends LayerContext {
  readonly #parent: Context;
  readonly #firstKey: symbol;
  readonly #firstValue: unknown;
  readonly #secondKey: symbol;
  readonly #secondValue: unknown;

  constructor(parent: Context, firstKey: symbol, firstValue: unknown, secondKey: symbol, secondValue: unknown) {
    super();
    this.#parent = parent;
    this.#firstKey = firstKey;
    this.#firstValue = firstValue;
    this.#secondKey = secondKey;
    this.#secondValue = secondValue;
  }

  getValue(key: symbol): unknown {
    if (key === this.#firstKey) return this.#firstValue === DELETED ? undefined : this.#firstValue;
    if (key === this.#secondKey) return this.#secondValue === DELETED ? undefined : this.#secondValue;
    return this.#parent.getValue(key);
  }

  protected with(key: symbol, value: unknown): Context {
    if (key === this.#firstKey) return new TwoValueContext(this.#parent, key, value, this.#secondKey, this.#secondValue);
    if (key === this.#secondKey) return new TwoValueContext(this.#parent, this.#firstKey, this.#firstValue, key, value);
    return new OverlayContext(this.#parent, [this.#firstKey, this.#secondKey, key], [this.#firstValue, this.#secondValue, value]);
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
