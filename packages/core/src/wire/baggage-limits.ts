/**
 * The W3C Baggage header name and its limits ([W3C Baggage §3.3.2](https://www.w3.org/TR/baggage/#limits)),
 * and the validation of the `limits` option that lowers or raises them.
 */
import { InvalidOptionError } from '../errors.js';

/**
 * The header name ([W3C Baggage §3.1](https://www.w3.org/TR/baggage/#header-name)).
 *
 * @example
 * ```ts
 * headers[BAGGAGE_HEADER] = formatBaggage(members);
 * ```
 */
export const BAGGAGE_HEADER = 'baggage';

/**
 * The number of list-members a platform MUST propagate
 * ([W3C Baggage §3.3.2 Limits](https://www.w3.org/TR/baggage/#limits)); ctxprop's default limit.
 *
 * @example
 * ```ts
 * new BaggagePropagator({ limits: { maxMembers: MAX_BAGGAGE_MEMBERS } });
 * ```
 */
export const MAX_BAGGAGE_MEMBERS = 64;

/**
 * The `baggage-string` size in bytes a platform MUST propagate
 * ([W3C Baggage §3.3.2 Limits](https://www.w3.org/TR/baggage/#limits)); ctxprop's default limit.
 *
 * @example
 * ```ts
 * new BaggagePropagator({ limits: { maxBytes: MAX_BAGGAGE_BYTES } });
 * ```
 */
export const MAX_BAGGAGE_BYTES = 8192;

/**
 * The grammar's upper bound on list-members: `list-member 0*179( ... )`
 * ([W3C Baggage §3.3.1 Definition](https://www.w3.org/TR/baggage/#definition)).
 */
export const GRAMMAR_MAX_MEMBERS = 180;

/**
 * Limits applied when reading and writing a baggage list. Values below the spec's minimums
 * (64 members, 8192 bytes) are allowed, for services that want to take less from untrusted
 * callers, but then the spec's "MUST propagate" no longer holds.
 *
 * @example
 * ```ts
 * const limits: BaggageLimits = { maxMembers: 32, maxBytes: 4096 };
 * ```
 */
export interface BaggageLimits {
  /**
   * The most list-members kept; further members are dropped whole. A whole number, 1 to 180.
   * @default 64
   */
  maxMembers?: number;
  /**
   * The most bytes of list-members (plus the commas between them) kept; a member that would go
   * past it is dropped whole. A whole number, at least 1.
   * @default 8192
   */
  maxBytes?: number;
}

/**
 * {@link BaggageLimits} with every value checked and filled in.
 *
 * @example
 * ```ts
 * const limits: ResolvedBaggageLimits = resolveBaggageLimits({ maxMembers: 32 });
 * ```
 */
export interface ResolvedBaggageLimits {
  readonly maxMembers: number;
  readonly maxBytes: number;
}

const DEFAULT_LIMITS: ResolvedBaggageLimits = Object.freeze({ maxMembers: MAX_BAGGAGE_MEMBERS, maxBytes: MAX_BAGGAGE_BYTES });

/**
 * Checks baggage limits and fills in the defaults. Throws `InvalidOptionError` for a value
 * ctxprop cannot use.
 *
 * @example
 * ```ts
 * resolveBaggageLimits({ maxMembers: 32 }); // { maxMembers: 32, maxBytes: 8192 }
 * resolveBaggageLimits({ maxBytes: 0 });    // throws: option "limits.maxBytes" must be ...
 * ```
 */
export function resolveBaggageLimits(options?: BaggageLimits): ResolvedBaggageLimits {
  if (options === undefined || options === DEFAULT_LIMITS) return DEFAULT_LIMITS;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('limits', 'an object such as { maxMembers: 64, maxBytes: 8192 }', options);
  }
  const { maxMembers = MAX_BAGGAGE_MEMBERS, maxBytes = MAX_BAGGAGE_BYTES } = options;
  if (!Number.isInteger(maxMembers) || maxMembers < 1 || maxMembers > GRAMMAR_MAX_MEMBERS) {
    throw new InvalidOptionError(
      'limits.maxMembers',
      `a whole number from 1 to ${GRAMMAR_MAX_MEMBERS}`,
      maxMembers,
      `Leave it out for the W3C minimum of ${MAX_BAGGAGE_MEMBERS}; the W3C grammar allows at most ${GRAMMAR_MAX_MEMBERS}.`,
    );
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new InvalidOptionError('limits.maxBytes', 'a whole number of at least 1', maxBytes, `Leave it out for the W3C minimum of ${MAX_BAGGAGE_BYTES}.`);
  }
  if (maxMembers === MAX_BAGGAGE_MEMBERS && maxBytes === MAX_BAGGAGE_BYTES) return DEFAULT_LIMITS;
  return Object.freeze({ maxMembers, maxBytes });
}
