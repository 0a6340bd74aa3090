/**
 * The read-only baggage view the Express and Fastify adapters expose as `req.baggage`: a small
 * Map-like object over the request's baggage, built lazily (nothing is copied until it is read)
 * and never `undefined`.
 */
import type { Baggage } from '@opentelemetry/api';
import type { BaggageMember, BaggageProperty } from './types.js';
import { baggageMemberMapOf, baggageMembersOf } from './wire-baggage.js';

/**
 * One entry of a {@link BaggageView}: the decoded value and its structured properties.
 *
 * @example
 * ```ts
 * const entry: BaggageViewEntry = { value: 'gold', properties: [{ key: 'ttl', value: '60' }] };
 * ```
 */
export interface BaggageViewEntry {
  readonly value: string;
  readonly properties: readonly BaggageProperty[];
}

/**
 * A read-only view of a request's baggage, one value per key.
 *
 * @example
 * ```ts
 * app.get('/', (req, res) => {
 *   const tier = req.baggage.get('customer.tier') ?? 'free';
 *   res.json({ tier, all: req.baggage.toJSON() });
 * });
 * ```
 */
export interface BaggageView extends Iterable<[string, string]> {
  /** The value of `key`, or `undefined`. */
  get(key: string): string | undefined;
  /** The value and properties of `key`, or `undefined`. */
  getEntry(key: string): BaggageViewEntry | undefined;
  /** True when `key` is present. */
  has(key: string): boolean;
  /** The number of keys. */
  readonly size: number;
  /** The keys, in header order. */
  keys(): IterableIterator<string>;
  /** `[key, value]` pairs, in header order. */
  entries(): IterableIterator<[string, string]>;
  /** `[key, value]` pairs, in header order. */
  [Symbol.iterator](): IterableIterator<[string, string]>;
  /** A plain (null-prototype) object of key to value, for logging and `JSON.stringify`. */
  toJSON(): Record<string, string>;
}

const NO_MEMBERS: ReadonlyMap<string, BaggageMember> = new Map();

function* pairs(map: ReadonlyMap<string, BaggageMember>): IterableIterator<[string, string]> {
  for (const [key, member] of map) yield [key, member.value];
}

class LazyBaggageView implements BaggageView {
  readonly #baggage: Baggage | undefined;
  #members: ReadonlyMap<string, BaggageMember> | undefined;

  constructor(baggage: Baggage | undefined) {
    this.#baggage = baggage;
    if (baggage === undefined) this.#members = NO_MEMBERS;
    Object.freeze(this);
  }

  #map(): ReadonlyMap<string, BaggageMember> {
    let map = this.#members;
    if (map === undefined) {
      const baggage = this.#baggage!;
      map = baggageMemberMapOf(baggage);
      if (map === undefined) {
        const built = new Map<string, BaggageMember>();
        try {
          for (const member of baggageMembersOf(baggage)) built.set(member.key, member);
        } catch {
          // Someone else's Baggage implementation failed: read it as empty rather than fail a request.
        }
        map = built;
      }
      this.#members = map;
    }
    return map;
  }

  get(key: string): string | undefined {
    return this.#map().get(key)?.value;
  }

  getEntry(key: string): BaggageViewEntry | undefined {
    const member = this.#map().get(key);
    return member === undefined ? undefined : { value: member.value, properties: member.properties };
  }

  has(key: string): boolean {
    return this.#map().has(key);
  }

  get size(): number {
    return this.#map().size;
  }

  keys(): IterableIterator<string> {
    return this.#map().keys();
  }

  entries(): IterableIterator<[string, string]> {
    return pairs(this.#map());
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return pairs(this.#map());
  }

  toJSON(): Record<string, string> {
    // A null prototype: `__proto__` is a valid baggage key (a token) and must stay plain data.
    const out = Object.create(null) as Record<string, string>;
    for (const [key, member] of this.#map()) out[key] = member.value;
    return out;
  }

  get [Symbol.toStringTag](): string {
    return 'BaggageView';
  }
}

/**
 * The empty view: what `req.baggage` is when the request carried no baggage.
 *
 * @example
 * ```ts
 * EMPTY_BAGGAGE_VIEW.size; // 0
 * ```
 */
export const EMPTY_BAGGAGE_VIEW: BaggageView = new LazyBaggageView(undefined);

/**
 * A read-only view of `baggage`; the empty view when there is none, never `undefined`. Cheap:
 * nothing is read until the view is used.
 *
 * @example
 * ```ts
 * const view = createBaggageView(propagation.getBaggage(context.active()));
 * view.get('tenant'); // 'acme'
 * ```
 */
export function createBaggageView(baggage: Baggage | undefined): BaggageView {
  return baggage === undefined || baggage === null ? EMPTY_BAGGAGE_VIEW : new LazyBaggageView(baggage);
}
