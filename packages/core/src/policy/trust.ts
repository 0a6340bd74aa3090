/**
 * The inbound trust policy: per request, whether the trace context a caller sent is *trusted*
 * (the trace continues), *linked* (a new trace starts whose root span links to the caller's) or
 * *ignored*, and whether the caller's baggage is kept whole or cut down to an allowlist.
 *
 * Inside a cluster every caller is one of ours, so the default trusts everything. At a public
 * edge, anyone can send `traceparent` and `baggage`: a forged trace id joins your traces, forged
 * baggage (`customer.tier=platinum`) reaches every service downstream (opentelemetry-js #3240).
 * Decide by the client's address (CIDR blocks), by a header your own gateway sets, or by a
 * function.
 */
import type { Baggage } from '@opentelemetry/api';
import { baggageMembersOf, createBaggageFromMembers } from '../baggage/wire-baggage.js';
import { readHeader } from '../carrier/headers.js';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import { describe, InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { createCidrMatcher, isPrivateAddress, parseCidr } from './cidr.js';

/**
 * What happens to a request's inbound trace context:
 * - `trust`: continue the caller's trace (the server span is a child of the caller's span);
 * - `link`: start a new trace; its root span links to the caller's span context;
 * - `ignore`: start a new trace as if no trace context had been sent.
 *
 * @example
 * ```ts
 * const decision: TrustDecision = 'link';
 * ```
 */
export type TrustDecision = 'trust' | 'link' | 'ignore';

/**
 * A full verdict: the trace-context decision and what happens to the caller's baggage (`keep`
 * it, or keep only the `allowlist` keys). A {@link TrustFunction} may return one to say
 * "link, but keep the baggage" or "trust the trace, but not the baggage".
 *
 * @example
 * ```ts
 * const verdict: TrustVerdict = { context: 'link', baggage: 'keep' };
 * ```
 */
export interface TrustVerdict {
  readonly context: TrustDecision;
  readonly baggage: 'keep' | 'allowlist';
}

/**
 * What a trust decision may look at. Adapters fill it in; `request` is the framework's own
 * request object (Express `req`, Fastify `request`).
 *
 * @example
 * ```ts
 * const info: TrustRequestInfo = { clientAddress: '10.0.0.7', headers: req.headers, method: 'GET', path: '/', request: req };
 * ```
 */
export interface TrustRequestInfo {
  /** The client's address as the framework resolves it (Express `req.ip`, Fastify `request.ip`). */
  readonly clientAddress: string | undefined;
  /** The request headers. */
  readonly headers: unknown;
  readonly method: string | undefined;
  /** The request path, without the query. */
  readonly path: string | undefined;
  /** The framework's request object. */
  readonly request: unknown;
}

/**
 * Decides per request. Given as the `trust` option itself, a string is read as the fixed option of
 * the same name (`link` keeps the baggage, `ignore` cuts it to the allowlist); as the `decide` of
 * {@link TrustPolicyOptions}, `link` and `ignore` both keep only the `untrustedBaggage` keys.
 * Return a {@link TrustVerdict} to choose both parts.
 * It must be fast and must not throw: a throw or an unknown value is read as "untrusted".
 *
 * @example
 * ```ts
 * const decide: TrustFunction = (request) => (request.path?.startsWith('/internal/') ? 'trust' : 'link');
 * ```
 */
export type TrustFunction = (request: TrustRequestInfo) => TrustDecision | TrustVerdict;

/**
 * A header whose presence (or value) marks a request as coming through a trusted hop.
 *
 * @example
 * ```ts
 * const header: TrustedHeader = { name: 'x-internal-gateway', value: process.env.GATEWAY_SECRET };
 * ```
 */
export interface TrustedHeader {
  /**
   * The header name, any case.
   * @example 'x-internal-gateway'
   */
  name: string;
  /**
   * The value (or values) it must have. Compared in constant time, so it may be a shared secret
   * your gateway adds. Without it, any non-empty value trusts the request.
   * @default undefined (presence is enough)
   * @example process.env.GATEWAY_SECRET
   */
  value?: string | readonly string[];
}

/**
 * The object form of the `trust` option.
 *
 * @example
 * ```ts
 * const options: TrustPolicyOptions = { trustedAddresses: ['private'], untrusted: 'link', untrustedBaggage: ['synthetic.test'] };
 * ```
 */
export interface TrustPolicyOptions {
  /**
   * Client addresses whose context is trusted: CIDR blocks or single addresses, and the keyword
   * `'private'` for loopback, RFC 1918, link-local, unique-local and CGNAT addresses.
   * @default undefined (the address does not matter)
   * @example ['private'] or ['10.0.0.0/8', 'fd00::/8']
   */
  trustedAddresses?: 'private' | readonly string[];
  /**
   * A header that marks trusted requests (one your gateway sets and strips from public traffic).
   * @default undefined (no header condition)
   * @example { name: 'x-internal-gateway', value: process.env.GATEWAY_SECRET }
   */
  trustedHeader?: TrustedHeader;
  /**
   * With both `trustedAddresses` and `trustedHeader`: `all` trusts a request that meets both,
   * `any` one that meets either.
   * @default 'all'
   * @example 'any'
   */
  match?: 'all' | 'any';
  /**
   * Decide yourself; when given, `trustedAddresses`, `trustedHeader` and `match` must not be.
   * @default undefined
   * @example (request) => (request.headers['x-partner'] === 'acme' ? 'trust' : 'link')
   */
  decide?: TrustFunction;
  /**
   * What happens to the trace context of a request that is not trusted.
   * @default 'link'
   * @example 'ignore'
   */
  untrusted?: 'link' | 'ignore';
  /**
   * Baggage keys kept from requests that are not trusted (everything else is dropped).
   * @default [] (drop all their baggage)
   * @example ['synthetic.test']
   */
  untrustedBaggage?: readonly string[];
}

/**
 * The `trust` option: a fixed decision for every request, a function, or rules.
 *
 * @example
 * ```ts
 * const publicEdge: TrustOption = { trustedAddresses: ['private'], untrusted: 'link' };
 * ```
 */
export type TrustOption = TrustDecision | TrustFunction | TrustPolicyOptions;

/**
 * The trust policy built from a {@link TrustOption}.
 *
 * @example
 * ```ts
 * const policy = createTrustPolicy({ trustedAddresses: ['private'] });
 * const verdict = policy.decide({ clientAddress: '203.0.113.9', headers: {}, method: 'GET', path: '/', request: undefined });
 * // { context: 'link', baggage: 'allowlist' }
 * ```
 */
export interface TrustPolicy {
  /** True when every request is trusted whole (the default): adapters skip the decision. */
  readonly trustsEverything: boolean;
  /** The verdict for one request. Never throws. */
  decide(request: TrustRequestInfo): TrustVerdict;
  /** `baggage` with only the allowlisted keys (undefined when none is left). Never throws. */
  restrictBaggage(baggage: Baggage | undefined): Baggage | undefined;
}

const TRUSTED: TrustVerdict = Object.freeze({ context: 'trust', baggage: 'keep' });
const LINKED: TrustVerdict = Object.freeze({ context: 'link', baggage: 'keep' });
const IGNORED: TrustVerdict = Object.freeze({ context: 'ignore', baggage: 'allowlist' });
const UNTRUSTED_LINK: TrustVerdict = Object.freeze({ context: 'link', baggage: 'allowlist' });
const UNTRUSTED_IGNORE: TrustVerdict = IGNORED;

const DECISIONS: readonly string[] = ['trust', 'link', 'ignore'];
const OPTION_KEYS: readonly string[] = ['trustedAddresses', 'trustedHeader', 'match', 'decide', 'untrusted', 'untrustedBaggage'];
const HEADER_KEYS: readonly string[] = ['name', 'value'];

function fixedVerdict(decision: TrustDecision): TrustVerdict {
  return decision === 'trust' ? TRUSTED : decision === 'link' ? LINKED : IGNORED;
}

/**
 * Reads what a trust function returned; anything unknown is "untrusted". Given alone, `'link'` is
 * the fixed option (baggage kept); as the `decide` of the object form, whose `untrusted` and
 * `untrustedBaggage` say what becomes of requests not trusted, it is one of those.
 */
function verdictOf(value: unknown, untrusted: TrustVerdict, linked: TrustVerdict): TrustVerdict {
  if (value === 'trust') return TRUSTED;
  if (value === 'link') return linked;
  if (value === 'ignore') return IGNORED;
  if (typeof value === 'object' && value !== null) {
    const { context, baggage } = value as { context?: unknown; baggage?: unknown };
    if ((context === 'trust' || context === 'link' || context === 'ignore') && (baggage === 'keep' || baggage === 'allowlist')) {
      return value as TrustVerdict;
    }
  }
  warnOnce(
    'CTXPROP_TRUST_FUNCTION_RESULT',
    `ctxprop: the trust function returned ${describe(value)}; the request was treated as untrusted. Return 'trust', 'link', 'ignore' or { context, baggage }.`,
  );
  return untrusted;
}

/** Compares in time that depends only on the lengths, so a secret header value is not guessed byte by byte. */
function constantTimeEquals(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) difference |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return difference === 0;
}

function headerMatcher(header: unknown, option: string): (headers: unknown) => boolean {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new InvalidOptionError(option, 'an object { name, value? }', header, `Example: { name: 'x-internal-gateway', value: process.env.GATEWAY_SECRET }.`);
  }
  rejectUnknownOptions(header, HEADER_KEYS, option);
  const { name, value } = header as { name?: unknown; value?: unknown };
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidOptionError(`${option}.name`, 'a non-empty header name', name);
  }
  const values = value === undefined ? undefined : typeof value === 'string' ? [value] : value;
  if (values !== undefined && (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string' && v !== ''))) {
    throw new InvalidOptionError(`${option}.value`, 'a non-empty string or a non-empty array of them', value, 'Leave it out to trust any request that carries the header.');
  }
  const lower = name.trim().toLowerCase();
  const expected = values as readonly string[] | undefined;
  return function matchesTrustedHeader(headers: unknown): boolean {
    const received = readHeader(headers, lower);
    // Two values of a header a gateway sets once mean someone added one: not trusted.
    if (typeof received !== 'string' || received === '') return false;
    if (expected === undefined) return true;
    let found = false;
    for (const candidate of expected) found = constantTimeEquals(received, candidate) || found;
    return found;
  };
}

function addressMatcher(addresses: unknown, option: string): (address: string | undefined) => boolean {
  const list = addresses === 'private' ? ['private'] : addresses;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionError(option, `'private' or a non-empty array of CIDR blocks`, addresses, `Example: ['private'] or ['10.0.0.0/8', 'fd00::/8'].`);
  }
  const includePrivate = list.includes('private');
  // Validated one by one first, so that a message names the entry's own index.
  list.forEach((entry, index) => {
    if (entry !== 'private') parseCidr(entry as string, `${option}[${index}]`);
  });
  const blocks = list.filter((entry) => entry !== 'private') as string[];
  const matchesCidr = blocks.length === 0 ? undefined : createCidrMatcher(blocks, option);
  return function matchesTrustedAddress(address: string | undefined): boolean {
    if (typeof address !== 'string' || address === '') return false;
    return (includePrivate && isPrivateAddress(address)) || (matchesCidr !== undefined && matchesCidr(address));
  };
}

function allowlistOf(keys: unknown, option: string): ReadonlySet<string> {
  if (keys === undefined) return new Set();
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string' && key !== '')) {
    throw new InvalidOptionError(option, 'an array of baggage keys (non-empty strings)', keys, `Example: ['synthetic.test'].`);
  }
  return new Set(keys as string[]);
}

function restrictTo(allowed: ReadonlySet<string>): (baggage: Baggage | undefined) => Baggage | undefined {
  return function restrictBaggage(baggage: Baggage | undefined): Baggage | undefined {
    if (baggage === undefined) return undefined;
    try {
      const members = baggageMembersOf(baggage);
      const kept = allowed.size === 0 ? [] : members.filter((member) => allowed.has(member.key));
      const dropped = members.length - kept.length;
      if (dropped === 0) return baggage;
      countDiagnostic('extract.baggage.untrusted', dropped);
      warnOnce(
        'CTXPROP_UNTRUSTED_BAGGAGE',
        'ctxprop: baggage from a request the trust policy does not trust was dropped. List keys in trust.untrustedBaggage to keep them, or trust the caller.',
      );
      return kept.length === 0 ? undefined : createBaggageFromMembers(kept);
    } catch {
      countDiagnostic('internal.error');
      return undefined;
    }
  };
}

function trustEverything(): TrustPolicy {
  return {
    trustsEverything: true,
    decide: () => TRUSTED,
    restrictBaggage: (baggage) => baggage,
  };
}

/**
 * Builds the trust policy from the `trust` option (validated now: a wrong value throws
 * {@link InvalidOptionError} naming `option`). Without an option every request is trusted.
 *
 * @example
 * ```ts
 * // A public edge: callers on the private network are trusted, everyone else starts a new trace
 * // (linked to theirs) and loses their baggage except `synthetic.test`.
 * const policy = createTrustPolicy({ trustedAddresses: ['private'], untrusted: 'link', untrustedBaggage: ['synthetic.test'] });
 * ```
 */
export function createTrustPolicy(trust?: TrustOption, option = 'trust'): TrustPolicy {
  if (trust === undefined || trust === 'trust') return trustEverything();
  if (typeof trust === 'string') {
    if (!DECISIONS.includes(trust)) {
      throw new InvalidOptionError(option, `'trust', 'link', 'ignore', a function or an object`, trust, `Use { trustedAddresses: ['private'] } to trust only your own network.`);
    }
    const verdict = fixedVerdict(trust);
    const restrict = restrictTo(new Set());
    return { trustsEverything: false, decide: () => verdict, restrictBaggage: restrict };
  }
  if (typeof trust === 'function') return fromFunction(trust, UNTRUSTED_LINK, LINKED, new Set(), option);
  if (typeof trust !== 'object' || trust === null || Array.isArray(trust)) {
    throw new InvalidOptionError(option, `'trust', 'link', 'ignore', a function or an object`, trust);
  }
  rejectUnknownOptions(trust, OPTION_KEYS, option);
  const { trustedAddresses, trustedHeader, match = 'all', decide, untrusted = 'link', untrustedBaggage } = trust;
  if (untrusted !== 'link' && untrusted !== 'ignore') {
    throw new InvalidOptionError(`${option}.untrusted`, `'link' or 'ignore'`, untrusted);
  }
  if (match !== 'all' && match !== 'any') {
    throw new InvalidOptionError(`${option}.match`, `'all' or 'any'`, match);
  }
  const allowed = allowlistOf(untrustedBaggage, `${option}.untrustedBaggage`);
  const untrustedVerdict = untrusted === 'link' ? UNTRUSTED_LINK : UNTRUSTED_IGNORE;
  if (decide !== undefined) {
    if (typeof decide !== 'function') throw new InvalidOptionError(`${option}.decide`, 'a function (request) => decision', decide);
    if (trustedAddresses !== undefined || trustedHeader !== undefined) {
      throw new InvalidOptionError(
        `${option}.decide`,
        'given alone, without trustedAddresses or trustedHeader',
        decide,
        'Check the address or header inside your function, or drop the function.',
      );
    }
    return fromFunction(decide, untrustedVerdict, UNTRUSTED_LINK, allowed, option);
  }
  if (trustedAddresses === undefined && trustedHeader === undefined) {
    throw new InvalidOptionError(
      option,
      'an object with trustedAddresses, trustedHeader or decide',
      trust,
      `Use trust: 'ignore' or trust: 'link' to treat every request alike.`,
    );
  }
  const byAddress = trustedAddresses === undefined ? undefined : addressMatcher(trustedAddresses, `${option}.trustedAddresses`);
  const byHeader = trustedHeader === undefined ? undefined : headerMatcher(trustedHeader, `${option}.trustedHeader`);
  const any = match === 'any';
  return {
    trustsEverything: false,
    decide(request: TrustRequestInfo): TrustVerdict {
      try {
        const addressOk = byAddress === undefined ? undefined : byAddress(request.clientAddress);
        const headerOk = byHeader === undefined ? undefined : byHeader(request.headers);
        let trusted: boolean;
        if (addressOk === undefined) trusted = headerOk === true;
        else if (headerOk === undefined) trusted = addressOk;
        else trusted = any ? addressOk || headerOk : addressOk && headerOk;
        return trusted ? TRUSTED : untrustedVerdict;
      } catch {
        countDiagnostic('internal.error');
        return untrustedVerdict;
      }
    },
    restrictBaggage: restrictTo(allowed),
  };
}

function fromFunction(decide: TrustFunction, untrusted: TrustVerdict, linked: TrustVerdict, allowed: ReadonlySet<string>, option: string): TrustPolicy {
  return {
    trustsEverything: false,
    decide(request: TrustRequestInfo): TrustVerdict {
      try {
        return verdictOf(decide(request), untrusted, linked);
      } catch (error) {
        countDiagnostic('internal.error');
        warnOnce(
          'CTXPROP_TRUST_FUNCTION_THREW',
          `ctxprop: the ${option} function threw (${error instanceof Error ? error.message : describe(error)}); requests it fails on are treated as untrusted.`,
        );
        return untrusted;
      }
    },
    restrictBaggage: restrictTo(allowed),
  };
}
