/**
 * `WireBaggage`: an immutable `Baggage` (from `@opentelemetry/api`) that keeps each entry's
 * properties as a structure (opentelemetry-js #2740 keeps them as one opaque string) and, when
 * it was read from a clean header, that header's text, so it can be forwarded without
 * re-encoding (DESIGN decision 6). Any change drops the text.
 *
 * Entry metadata is a `BaggageEntryMetadata` whose `toString()` is the property list
 * (`prop=v;flag`), so OpenTelemetry's own `W3CBaggagePropagator` writes it correctly.
 */
import { baggageEntryMetadataFromString, type Baggage, type BaggageEntry, type BaggageEntryMetadata } from '@opentelemetry/api';
import { formatBaggageProperties, frozenProperties, isBaggageKey, parseBaggageProperties, scanBaggage, type ResolvedBaggageLimits } from '../wire/baggage.js';
import type { BaggageMember, BaggageProperty } from './types.js';

// Symbol.for keys, so that two copies of ctxprop in one process read each other's baggage.
const PROPERTIES_KEY = Symbol.for('ctxprop.baggage.properties');
const RAW_KEY = Symbol.for('ctxprop.baggage.raw');
const MEMBERS_KEY = Symbol.for('ctxprop.baggage.members');

/**
 * What a WireBaggage read from a clean header remembers of it.
 *
 * @example
 * ```ts
 * const raw: RawBaggageHeader | undefined = rawBaggageOf(propagation.getBaggage(ctx));
 * ```
 */
export interface RawBaggageHeader {
  /** The header text. */
  readonly text: string;
  /** How many list-members it holds (duplicate keys included). */
  readonly members: number;
}

// The API brands metadata with a symbol it does not export: borrow it from its own factory.
const METADATA_TYPE: BaggageEntryMetadata['__TYPE__'] = baggageEntryMetadataFromString('').__TYPE__;
const NO_PROPERTIES: readonly BaggageProperty[] = Object.freeze([]);

/** Entry metadata that carries parsed properties and prints them as a W3C property list. */
class PropertiesMetadata {
  readonly __TYPE__: BaggageEntryMetadata['__TYPE__'] = METADATA_TYPE;
  readonly [PROPERTIES_KEY]: readonly BaggageProperty[];
  #text: string | undefined;

  constructor(properties: readonly BaggageProperty[]) {
    this[PROPERTIES_KEY] = properties;
  }

  toString(): string {
    return (this.#text ??= formatBaggageProperties(this[PROPERTIES_KEY]));
  }
}

function metadataOf(properties: readonly BaggageProperty[]): BaggageEntryMetadata | undefined {
  // No metadata without properties: OpenTelemetry's injector writes `;` + metadata whenever
  // metadata is set, and `key=value;` is not a valid list-member.
  return properties.length === 0 ? undefined : new PropertiesMetadata(properties);
}

/**
 * The properties of any baggage entry: ctxprop's own (structured) or those parsed from another
 * implementation's metadata string (for example OpenTelemetry's `createBaggage`). Invalid
 * properties in such a string are left out. Never throws.
 *
 * @example
 * ```ts
 * const entry = { value: 'x', metadata: baggageEntryMetadataFromString('ttl=60;sensitive') };
 * baggagePropertiesOf(entry); // [{ key: 'ttl', value: '60' }, { key: 'sensitive' }]
 * ```
 */
export function baggagePropertiesOf(entry: BaggageEntry | undefined): readonly BaggageProperty[] {
  const metadata = entry?.metadata;
  if (metadata === undefined || metadata === null) return NO_PROPERTIES;
  const own = (metadata as { [PROPERTIES_KEY]?: readonly BaggageProperty[] })[PROPERTIES_KEY];
  if (Array.isArray(own)) return own;
  try {
    const text = metadata.toString();
    return typeof text === 'string' && text.length > 0 ? frozenProperties(parseBaggageProperties(text)) : NO_PROPERTIES;
  } catch {
    return NO_PROPERTIES;
  }
}

function entryOf(member: BaggageMember): BaggageEntry {
  const metadata = metadataOf(member.properties);
  return metadata === undefined ? { value: member.value } : { value: member.value, metadata };
}

function memberOf(key: string, entry: BaggageEntry): BaggageMember {
  const value = entry?.value;
  return { key, value: typeof value === 'string' ? value : String(value), properties: baggagePropertiesOf(entry) };
}

function normalizeMembers(members: Iterable<BaggageMember>): BaggageMember[] {
  const list: BaggageMember[] = [];
  for (const member of members) {
    if (typeof member !== 'object' || member === null || typeof member.key !== 'string') continue;
    const properties: BaggageProperty[] = [];
    if (Array.isArray(member.properties)) {
      for (const p of member.properties as readonly BaggageProperty[]) {
        // A property that cannot be written is left out here, so metadata never prints as ''.
        if (typeof p !== 'object' || p === null || !isBaggageKey(p.key)) continue;
        properties.push(typeof p.value === 'string' ? { key: p.key, value: p.value } : { key: p.key });
      }
    }
    const value = typeof member.value === 'string' ? member.value : String(member.value);
    list.push({ key: member.key, value, properties: properties.length === 0 ? NO_PROPERTIES : frozenProperties(properties) });
  }
  return list;
}

// Marks this module's own constructor calls, whose members need no copy.
const TRUSTED = Symbol('ctxprop.baggage.trusted');

// Let this module create a WireBaggage that remembers its header, without making that possible
// from outside (a caller-supplied text could disagree with the members).
let fromRaw: (raw: RawBaggageHeader, limits: ResolvedBaggageLimits) => WireBaggage;
let readMembers: (baggage: WireBaggage) => ReadonlyMap<string, BaggageMember>;
let readRaw: (baggage: WireBaggage) => RawBaggageHeader | undefined;

/**
 * An immutable `Baggage` holding structured members. Build one with
 * {@link createBaggageFromMembers}; the baggage propagator builds them from headers, decoding
 * the header only when an entry is first read.
 *
 * @example
 * ```ts
 * const baggage = createBaggageFromMembers([{ key: 'tenant', value: 'acme', properties: [] }]);
 * baggage.getEntry('tenant')?.value; // 'acme'
 * baggage.setEntry('plan', { value: 'gold' }); // a new WireBaggage
 * ```
 */
export class WireBaggage implements Baggage {
  /** Members as given, duplicate keys included; decoded from `#raw` on first use. */
  #list: readonly BaggageMember[] | undefined;
  #byKey: Map<string, BaggageMember> | undefined;
  #raw: RawBaggageHeader | undefined;
  #rawLimits: ResolvedBaggageLimits | undefined;

  static {
    readMembers = (baggage) => baggage.#map();
    readRaw = (baggage) => baggage.#raw;
    fromRaw = (raw, limits) => {
      const baggage = new WireBaggage(undefined, TRUSTED);
      baggage.#raw = raw;
      baggage.#rawLimits = limits;
      return baggage;
    };
  }

  /** Copies `members`; with duplicate keys the last one wins. Same as {@link createBaggageFromMembers}. */
  constructor(members?: Iterable<BaggageMember>, internal?: unknown) {
    // Called by this module with TRUSTED and no members for a header that is decoded lazily.
    this.#list = internal === TRUSTED ? (members as readonly BaggageMember[] | undefined) : normalizeMembers(members ?? []);
  }

  #map(): Map<string, BaggageMember> {
    let map = this.#byKey;
    if (map === undefined) {
      let list = this.#list;
      if (list === undefined) {
        // The raw text was checked when it was read, with these limits: every member is kept.
        const decoded: BaggageMember[] = [];
        scanBaggage(this.#raw!.text, this.#rawLimits!, decoded);
        this.#list = list = decoded;
      }
      map = new Map();
      for (const member of list) map.set(member.key, member);
      this.#byKey = map;
    }
    return map;
  }

  #with(map: Map<string, BaggageMember>): WireBaggage {
    const baggage = new WireBaggage([...map.values()], TRUSTED);
    baggage.#byKey = map;
    return baggage;
  }

  getEntry(key: string): BaggageEntry | undefined {
    const member = this.#map().get(key);
    return member === undefined ? undefined : entryOf(member);
  }

  getAllEntries(): [string, BaggageEntry][] {
    const entries: [string, BaggageEntry][] = [];
    for (const [key, member] of this.#map()) entries.push([key, entryOf(member)]);
    return entries;
  }

  setEntry(key: string, entry: BaggageEntry): WireBaggage {
    const map = new Map(this.#map());
    map.set(key, memberOf(key, entry));
    return this.#with(map);
  }

  removeEntry(key: string): WireBaggage {
    return this.removeEntries(key);
  }

  removeEntries(...keys: string[]): WireBaggage {
    const current = this.#map();
    if (!keys.some((key) => current.has(key))) return this;
    const map = new Map(current);
    for (const key of keys) map.delete(key);
    return this.#with(map);
  }

  clear(): WireBaggage {
    return EMPTY_WIRE_BAGGAGE;
  }
}

// Symbol.for-keyed accessors let another copy of ctxprop read this baggage's members and header.
Object.defineProperty(WireBaggage.prototype, MEMBERS_KEY, {
  get(this: WireBaggage) {
    return readMembers(this);
  },
});
Object.defineProperty(WireBaggage.prototype, RAW_KEY, {
  get(this: WireBaggage) {
    return readRaw(this);
  },
});

const EMPTY_WIRE_BAGGAGE = new WireBaggage([], TRUSTED);

/**
 * Builds a WireBaggage from members (copied). With duplicate keys the last one wins.
 *
 * @example
 * ```ts
 * propagation.setBaggage(ctx, createBaggageFromMembers([
 *   { key: 'tenant', value: 'acme', properties: [{ key: 'ttl', value: '60' }] },
 * ]));
 * ```
 */
export function createBaggageFromMembers(members: Iterable<BaggageMember>): WireBaggage {
  return new WireBaggage(members);
}

/**
 * Builds the WireBaggage of a clean inbound header (`raw` and `members` from {@link scanBaggage}
 * with `limits`): nothing is decoded until an entry is read, and an unchanged baggage is
 * forwarded as `raw`. For ctxprop's propagators.
 *
 * @example
 * ```ts
 * const limits = resolveBaggageLimits();
 * const scan = scanBaggage(header, limits);
 * if (scan.raw !== undefined) propagation.setBaggage(ctx, wireBaggageFromHeader(scan.raw, scan.kept, limits));
 * ```
 */
export function wireBaggageFromHeader(raw: string, members: number, limits: ResolvedBaggageLimits): WireBaggage {
  return fromRaw({ text: raw, members }, limits);
}

/**
 * Builds a WireBaggage from decoded members, taken as they are (not copied). For ctxprop's
 * propagators.
 *
 * @example
 * ```ts
 * wireBaggageFromMembers(parseBaggage(header).members);
 * ```
 */
export function wireBaggageFromMembers(members: readonly BaggageMember[]): WireBaggage {
  return new WireBaggage(members, TRUSTED);
}

/**
 * Returns `base` (any Baggage, or none) with `members` added on top: a member replaces an entry
 * of the same key. The result never keeps a raw header.
 *
 * @example
 * ```ts
 * mergeBaggageMembers(propagation.getBaggage(ctx), [{ key: 'tenant', value: 'acme', properties: [] }]);
 * ```
 */
export function mergeBaggageMembers(base: Baggage | undefined, members: readonly BaggageMember[]): WireBaggage {
  const map = new Map<string, BaggageMember>();
  if (base !== undefined) for (const member of baggageMembersOf(base)) map.set(member.key, member);
  for (const member of members) map.set(member.key, member);
  return new WireBaggage([...map.values()], TRUSTED);
}

/**
 * The members of any Baggage (ctxprop's or another implementation's), one per key, with
 * structured properties.
 *
 * @example
 * ```ts
 * baggageMembersOf(propagation.createBaggage({ a: { value: '1' } }));
 * // [{ key: 'a', value: '1', properties: [] }]
 * ```
 */
export function baggageMembersOf(baggage: Baggage | undefined): BaggageMember[] {
  if (baggage === undefined || baggage === null) return [];
  const own = (baggage as { [MEMBERS_KEY]?: ReadonlyMap<string, BaggageMember> })[MEMBERS_KEY];
  if (own instanceof Map) return [...own.values()];
  return baggage.getAllEntries().map(([key, entry]) => memberOf(key, entry));
}

/**
 * The members of a baggage by key without copying, when it is a WireBaggage; otherwise
 * `undefined`. For the baggage view's fast path.
 *
 * @example
 * ```ts
 * baggageMemberMapOf(createBaggageFromMembers(members))?.get('tenant')?.value;
 * ```
 */
export function baggageMemberMapOf(baggage: Baggage): ReadonlyMap<string, BaggageMember> | undefined {
  const own = (baggage as { [MEMBERS_KEY]?: ReadonlyMap<string, BaggageMember> })[MEMBERS_KEY];
  return own instanceof Map ? own : undefined;
}

/**
 * The inbound header text a baggage was read from, when it is unchanged and was valid and
 * within limits; otherwise `undefined`.
 *
 * @example
 * ```ts
 * const ctx = new BaggagePropagator().extract(ROOT_CONTEXT, { baggage: 'a=1,b=2' }, defaultTextMapGetter);
 * rawBaggageHeaderOf(propagation.getBaggage(ctx)); // 'a=1,b=2'
 * ```
 */
export function rawBaggageHeaderOf(baggage: Baggage | undefined): string | undefined {
  return rawBaggageOf(baggage)?.text;
}

/**
 * Like {@link rawBaggageHeaderOf}, with the member count.
 *
 * @example
 * ```ts
 * rawBaggageOf(propagation.getBaggage(ctx)); // { text: 'a=1,b=2', members: 2 }
 * ```
 */
export function rawBaggageOf(baggage: Baggage | undefined): RawBaggageHeader | undefined {
  if (baggage === undefined || baggage === null) return undefined;
  const raw = (baggage as { [RAW_KEY]?: RawBaggageHeader })[RAW_KEY];
  return raw !== undefined && typeof raw.text === 'string' ? raw : undefined;
}
