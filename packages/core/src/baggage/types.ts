/**
 * The structured baggage model shared by the wire format, the propagators and the adapters.
 * Properties are parsed into a structure (opentelemetry-js #2740 keeps them as one opaque string).
 */

/**
 * One baggage property: `;key=value`, or a flag `;key` (no `value`).
 *
 * @example
 * ```ts
 * const ttl: BaggageProperty = { key: 'ttl', value: '60' };
 * const flag: BaggageProperty = { key: 'sensitive' };
 * ```
 */
export interface BaggageProperty {
  readonly key: string;
  readonly value?: string;
}

/**
 * One baggage list member, decoded: `key=value;prop1=v;flag`.
 *
 * @example
 * ```ts
 * const member: BaggageMember = { key: 'customer.tier', value: 'gold', properties: [] };
 * ```
 */
export interface BaggageMember {
  readonly key: string;
  readonly value: string;
  readonly properties: readonly BaggageProperty[];
}
