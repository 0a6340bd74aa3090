/**
 * The W3C Baggage propagator ([W3C Baggage](https://www.w3.org/TR/baggage/)). Compared with
 * OpenTelemetry's `W3CBaggagePropagator`: no 4096-byte per-member limit (removed from the spec in
 * 2022), structured properties, invalid members dropped one by one and counted, and an
 * unchanged inbound header forwarded as it came (no decode and re-encode).
 */
import {
  createContextKey,
  propagation,
  type Baggage,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { BaggageMember } from '../baggage/types.js';
import { baggageMembersOf, mergeBaggageMembers, rawBaggageOf, wireBaggageFromHeader, wireBaggageFromMembers } from '../baggage/wire-baggage.js';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { rejectUnknownOptions } from '../errors.js';
import {
  BAGGAGE_HEADER,
  baggageHeaderText,
  resolveBaggageLimits,
  scanBaggage,
  writeBaggage,
  type BaggageLimits,
  type ResolvedBaggageLimits,
} from '../wire/baggage.js';
import { getterFor, isTracingSuppressed, setterFor } from './carrier-access.js';
import { overlayContext } from '../context/overlay-context.js';

// The API's baggage key (createContextKey is Symbol.for-based: the very key propagation.getBaggage reads).
const BAGGAGE_KEY = createContextKey('OpenTelemetry Baggage Key');

/**
 * Options of {@link BaggagePropagator}.
 *
 * @example
 * ```ts
 * new BaggagePropagator({ limits: { maxMembers: 32 } });
 * ```
 */
export interface BaggagePropagatorOptions {
  /**
   * Limits on the members and bytes read from and written to the header.
   * @default { maxMembers: 64, maxBytes: 8192 }
   */
  limits?: BaggageLimits;
}


const FIELDS: readonly string[] = Object.freeze([BAGGAGE_HEADER]);

/** Counts the members dropped to keep within the limits, and warns once per direction. */
function reportOverLimit(direction: 'inbound' | 'outbound', members: number, limits: ResolvedBaggageLimits): void {
  const inbound = direction === 'inbound';
  countDiagnostic(inbound ? 'extract.baggage.over_limit' : 'inject.baggage.over_limit', members);
  warnOnce(
    inbound ? 'CTXPROP_BAGGAGE_OVER_LIMIT' : 'CTXPROP_OUTBOUND_BAGGAGE_OVER_LIMIT',
    `ctxprop: ${direction} baggage went over ${limits.maxMembers} members or ${limits.maxBytes} bytes; whole members were ` +
      (inbound
        ? 'dropped. Raise the baggage propagator\'s "limits" option to keep more.'
        : 'left out. Raise the baggage propagator\'s "limits" option to send more (downstream services may drop them).'),
  );
}

/**
 * Reads and writes the W3C `baggage` header. Extracted entries are added on top of any baggage
 * the context already has (so a composite propagator can merge several baggage formats).
 * Never throws on wire input.
 *
 * @example
 * ```ts
 * propagation.setGlobalPropagator(new CompositePropagator({
 *   propagators: [new W3CTraceContextPropagator(), new BaggagePropagator()],
 * }));
 * ```
 */
export class BaggagePropagator implements TextMapPropagator {
  readonly #limits: ResolvedBaggageLimits;

  /** Throws `InvalidOptionError` for limits it cannot use. */
  constructor(options: BaggagePropagatorOptions = {}) {
    rejectUnknownOptions(options, ['limits'], '', 'BaggagePropagator');
    const limits = options.limits;
    if (typeof limits === 'object' && limits !== null) rejectUnknownOptions(limits, ['maxMembers', 'maxBytes'], 'limits');
    this.#limits = resolveBaggageLimits(limits);
  }

  inject(ctx: Context, carrier: unknown, setter?: TextMapSetter): void {
    try {
      const baggage = propagation.getBaggage(ctx);
      if (baggage === undefined || isTracingSuppressed(ctx)) return;
      const limits = this.#limits;
      const raw = rawBaggageOf(baggage);
      let value: string;
      if (raw !== undefined && raw.text.length <= limits.maxBytes && raw.members <= limits.maxMembers) {
        value = raw.text;
      } else {
        const written = writeBaggage(baggageMembersOf(baggage), limits);
        value = written.text;
        if (written.overLimit > 0) reportOverLimit('outbound', written.overLimit, limits);
      }
      if (value === '') return;
      setterFor(setter).set(carrier, BAGGAGE_HEADER, value);
    } catch {
      countDiagnostic('internal.error');
    }
  }

  extract(ctx: Context, carrier: unknown, getter?: TextMapGetter): Context {
    try {
      const header = getterFor(getter).get(carrier, BAGGAGE_HEADER);
      if (header === undefined || header.length === 0) return ctx;
      const limits = this.#limits;
      const text = baggageHeaderText(header);
      // First pass only checks: a clean header is kept as text and decoded when first read.
      const scan = scanBaggage(text, limits);
      if (scan.invalid > 0) countDiagnostic('extract.baggage.invalid_member', scan.invalid);
      if (scan.overLimit > 0) reportOverLimit('inbound', scan.overLimit, limits);
      if (scan.kept === 0) return ctx;
      const existing = propagation.getBaggage(ctx);
      let baggage: Baggage;
      if (scan.raw !== undefined && (existing === undefined || existing.getAllEntries().length === 0)) {
        baggage = wireBaggageFromHeader(scan.raw, scan.kept, limits);
      } else {
        const members: BaggageMember[] = [];
        scanBaggage(text, limits, members);
        baggage = existing === undefined ? wireBaggageFromMembers(members) : mergeBaggageMembers(existing, members);
      }
      // propagation.setBaggage(ctx, baggage), without copying the context's Map.
      return overlayContext(ctx, BAGGAGE_KEY, baggage);
    } catch {
      countDiagnostic('internal.error');
      return ctx;
    }
  }

  fields(): string[] {
    return [...FIELDS];
  }
}
