/**
 * The destination policy: per outbound destination, whether trace headers go and which baggage
 * keys go. OpenTelemetry JS sends every header to every host (opentelemetry-js #1698, #5000;
 * spec #1633, #3957); here, baggage stays inside the cluster unless a rule lets it out.
 *
 * Rules are tried in order and the first that matches decides. When none matches, the defaults
 * apply: loopback, private-network addresses, single-label host names and internal suffixes
 * (`.local`, `.internal`, `.svc`, `.cluster.local`) get trace headers and all baggage; any other
 * host gets trace headers and no baggage. Decisions are cached per origin.
 */
import { domainToASCII } from 'node:url';
import { rejectUnknownOptions } from '../errors.js';
import { isPrivateAddress } from './cidr.js';
import { compileGrant, compileRule, invalid, staticMatch } from './destination-rules.js';
import { isLoopbackAddress, parseIpAddress } from './ip-address.js';

/**
 * Which baggage members may go to a destination: all, none, or only these keys.
 *
 * @example
 * ```ts
 * const partnerBaggage: BaggageAllowance = ['tenant.id', 'region'];
 * createDestinationPolicy({ rules: [{ hosts: ['*.partner.example'], baggage: partnerBaggage }] });
 * ```
 */
export type BaggageAllowance = 'all' | 'none' | readonly string[];

/**
 * What may go to one destination, and which rule said so.
 *
 * @example
 * ```ts
 * const decision: DestinationDecision = defaultDestinationPolicy('https://api.github.com/');
 * // { trace: true, baggage: 'none', rule: 'default:public' }
 * if (decision.baggage === 'none') console.log(`no baggage, by ${decision.rule}`);
 * ```
 */
export interface DestinationDecision {
  /** Whether trace headers (traceparent, tracestate, b3, ...) go. */
  readonly trace: boolean;
  /** Which baggage members go. */
  readonly baggage: BaggageAllowance;
  /**
   * The rule that decided: a rule's `name`, `destinations.rules[i]`, or one of the defaults
   * `default:loopback`, `default:private-network`, `default:single-label-host`,
   * `default:internal-suffix`, `default:public`.
   */
  readonly rule: string;
}

/**
 * What a rule or a default grants.
 *
 * @example
 * ```ts
 * const publicGrant: DestinationGrant = { trace: false, baggage: 'none' };
 * const policy = createDestinationPolicy({ public: publicGrant });
 * ```
 */
export interface DestinationGrant {
  /**
   * Whether trace headers go.
   * @default true
   */
  trace?: boolean;
  /**
   * Which baggage members go: `'all'`, `'none'`, or an allowlist of keys (exact, case-sensitive).
   * @default 'all'
   */
  baggage?: BaggageAllowance;
}

/**
 * One rule. It matches when any of its `hosts`, `origins`, `cidrs` or `match` matches; give at
 * least one.
 *
 * @example
 * ```ts
 * const rule: DestinationRule = { hosts: ['*.partner.example'], baggage: ['tenant.id'] };
 * ```
 */
export interface DestinationRule extends DestinationGrant {
  /** A name used in diagnostics and warnings. @default `destinations.rules[<index>]` */
  name?: string;
  /**
   * Host names: exact (`api.example.com`) or `*.example.com` (any subdomain, at any depth, not
   * `example.com` itself). Compared without regard to case; no port.
   * @example { hosts: ['api.example.com', '*.internal.example.com'] }
   */
  hosts?: readonly string[];
  /**
   * Origins: scheme, host and port (`https://api.partner.com`, `http://10.0.0.5:8080`).
   * @example { origins: ['https://api.partner.com'] }
   */
  origins?: readonly string[];
  /**
   * CIDR blocks matched against IP-literal destinations (`http://10.1.2.3/`). Host names are
   * not resolved: a rule on a name needs `hosts`.
   * @example { cidrs: ['10.0.0.0/8', 'fd00::/8'] }
   */
  cidrs?: readonly string[];
  /**
   * A function of the URL. It runs for every call (its answer is not cached), so keep it fast;
   * if it throws, the rule does not match.
   * @example { match: (url) => url.pathname.startsWith('/internal/') }
   */
  match?: (url: URL) => boolean;
}

/**
 * Options of {@link createDestinationPolicy}.
 *
 * @example
 * ```ts
 * const options: DestinationPolicyOptions = {
 *   rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }],
 *   public: { trace: false },
 * };
 * enableOutboundPropagation({ destinations: options }); // or createDestinationPolicy(options)
 * ```
 */
export interface DestinationPolicyOptions {
  /**
   * Rules tried in order before the defaults; the first that matches decides.
   * @default []
   * @example { rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }] }
   */
  rules?: readonly DestinationRule[];
  /**
   * What goes to internal destinations (loopback, private addresses, single-label names,
   * `.local`, `.internal`, `.svc`, `.cluster.local`) that no rule matched.
   * @default { trace: true, baggage: 'all' }
   * @example { internal: { baggage: ['tenant.id'] } }
   */
  internal?: DestinationGrant;
  /**
   * What goes to any other (public) destination that no rule matched.
   * @default { trace: true, baggage: 'none' }
   * @example { public: { trace: false } }
   */
  public?: DestinationGrant;
  /**
   * How many origins' decisions are remembered.
   * @default 1000
   */
  cacheSize?: number;
}

/**
 * Decides what may go to a URL. Never throws: a URL it cannot parse gets the public default.
 *
 * @example
 * ```ts
 * const policy: DestinationPolicy = createDestinationPolicy({ public: { trace: false } });
 * policy('https://api.github.com/').trace; // false
 * enableOutboundPropagation({ destinations: policy });
 * ```
 */
export type DestinationPolicy = (url: string | URL) => DestinationDecision;

/**
 * Host name suffixes that only resolve inside a cluster or a LAN (RFC 6762 `.local`, Kubernetes
 * `.svc` and `.cluster.local`, ICANN's reserved `.internal`).
 *
 * @example
 * ```ts
 * INTERNAL_HOST_SUFFIXES.some((suffix) => 'orders.shop.svc'.endsWith(suffix)); // true
 * ```
 */
export const INTERNAL_HOST_SUFFIXES: readonly string[] = ['.local', '.internal', '.svc', '.cluster.local'];

/** Where policies made here keep their origin-and-path entry point (Symbol.for: shared by copies). */
export const DECIDE_BY_ORIGIN = Symbol.for('ctxprop.destination.decideByOrigin');

/** A policy that may also be asked with the origin and the path apart. */
export type PolicyByOrigin = DestinationPolicy & { [DECIDE_BY_ORIGIN]?: (origin: string, path: string) => DestinationDecision };

/**
 * Asks `policy` about `origin` + `path`, without building the URL string when the policy was made
 * by {@link createDestinationPolicy}.
 *
 * @example
 * ```ts
 * decideByOrigin(defaultDestinationPolicy, 'http://orders.svc', '/v1').rule; // 'default:internal-suffix'
 * ```
 */
export function decideByOrigin(policy: DestinationPolicy, origin: string, path: string): DestinationDecision {
  const byOrigin = (policy as PolicyByOrigin)[DECIDE_BY_ORIGIN];
  return byOrigin !== undefined ? byOrigin(origin, path) : policy(`${origin}${path}`);
}

const OPTION_KEYS: readonly string[] = ['rules', 'internal', 'public', 'cacheSize'];

const DEFAULT_CACHE_SIZE = 1000;
const MAX_CACHE_SIZE = 1_000_000;

interface CachedDecision {
  readonly decision: DestinationDecision;
  /** Index of the rule that decided, or the number of rules when a default decided. */
  readonly index: number;
}

/**
 * A percent-encoded host name (`b%C3%BCcher.example`, as URL leaves one of a scheme it does not
 * know) as the ASCII name the rules are compiled to (`xn--bcher-kva.example`); as it is when it
 * does not decode to a name (then no host rule matches it).
 */
function asciiHostname(hostname: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(hostname);
  } catch {
    return hostname;
  }
  const ascii = domainToASCII(decoded);
  return ascii === '' ? hostname : ascii;
}

/** The default class of a host name as URL.hostname spells it (lower case, IPv6 in brackets). */
function defaultRule(name: string): string {
  const address = parseIpAddress(name);
  if (address !== undefined) {
    if (isLoopbackAddress(address)) return 'default:loopback';
    return isPrivateAddress(name) ? 'default:private-network' : 'default:public';
  }
  if (name === 'localhost' || name.endsWith('.localhost')) return 'default:loopback'; // RFC 6761 §6.3
  if (name.length > 0 && !name.includes('.')) return 'default:single-label-host';
  for (const suffix of INTERNAL_HOST_SUFFIXES) if (name.endsWith(suffix)) return 'default:internal-suffix';
  return 'default:public';
}

/** The `scheme://authority` prefix of an absolute URL string, without parsing the rest. */
function originPrefix(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd <= 0) return url;
  for (let i = schemeEnd + 3; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 47 || code === 63 || code === 35) return url.slice(0, i);
  }
  return url;
}

/**
 * Builds a destination policy. Options are validated now; a bad one, or an unknown key, throws
 * {@link InvalidOptionError} naming it under `option` (`destinations.rules[1].cidrs[0]`) and the
 * fix. The policy never throws; its decisions name rules `destinations.rules[i]` whatever `option`.
 *
 * By default trace headers go everywhere and baggage goes only to internal destinations: see
 * the README section "Outbound propagation and destination policy" for why.
 *
 * @example
 * ```ts
 * const policy = createDestinationPolicy({
 *   rules: [
 *     { hosts: ['*.partner.example'], baggage: ['tenant.id'] },
 *     { origins: ['https://api.payments.example'], trace: false, baggage: 'none' },
 *   ],
 * });
 * policy('https://eu.partner.example/v1'); // { trace: true, baggage: ['tenant.id'], rule: 'destinations.rules[0]' }
 * policy('http://orders.svc:8080/');       // { trace: true, baggage: 'all', rule: 'default:internal-suffix' }
 * policy('https://api.github.com/');       // { trace: true, baggage: 'none', rule: 'default:public' }
 * ```
 */
export function createDestinationPolicy(options: DestinationPolicyOptions = {}, option = 'destinations'): DestinationPolicy {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid(option, 'an object such as { rules: [...] }', options, `Example: { rules: [{ hosts: ['*.partner.example'], baggage: ['tenant.id'] }] }.`);
  }
  rejectUnknownOptions(options, OPTION_KEYS, option);
  const rulesOption = options.rules ?? [];
  if (!Array.isArray(rulesOption)) invalid(`${option}.rules`, 'an array of rules', options.rules);
  const rules = rulesOption.map((rule: DestinationRule, index) => compileRule(rule, index, option));
  const functionRules = rules.filter((rule) => rule.match !== undefined);
  const internal = compileGrant(options.internal, `${option}.internal`, { trace: true, baggage: 'all' });
  const publicGrant = compileGrant(options.public, `${option}.public`, { trace: true, baggage: 'none' });
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 1 || cacheSize > MAX_CACHE_SIZE) {
    invalid(`${option}.cacheSize`, `a whole number from 1 to ${MAX_CACHE_SIZE}`, options.cacheSize);
  }
  const defaults = new Map<string, DestinationDecision>();
  for (const rule of ['default:loopback', 'default:private-network', 'default:single-label-host', 'default:internal-suffix']) {
    defaults.set(rule, Object.freeze({ ...internal, rule }));
  }
  const publicDecision: DestinationDecision = Object.freeze({ ...publicGrant, rule: 'default:public' });
  defaults.set('default:public', publicDecision);
  const unparsable: CachedDecision = { decision: publicDecision, index: rules.length };
  const cache = new Map<string, CachedDecision>();

  function decideOrigin(key: string): CachedDecision {
    let url: URL;
    try {
      url = new URL(key);
    } catch {
      return unparsable;
    }
    // Non-special schemes (grpc://) keep the host's case, and percent-encode a name that is not
    // ASCII (URL's punycode is for http, https, ws, wss, ftp and file); a final dot names the same host.
    let hostname = url.hostname.toLowerCase();
    if (hostname.indexOf('%') !== -1) hostname = asciiHostname(hostname);
    let origin = url.origin;
    if (hostname.endsWith('.')) {
      hostname = hostname.slice(0, -1);
      // The origin too: `origins` rules name the host without the dot.
      url.hostname = hostname;
      origin = url.origin;
    }
    let found: CachedDecision | undefined;
    for (const rule of rules) {
      if (staticMatch(rule, origin, hostname)) {
        found = { decision: rule.decision, index: rule.index };
        break;
      }
    }
    found ??= { decision: defaults.get(defaultRule(hostname)) ?? publicDecision, index: rules.length };
    if (cache.size >= cacheSize) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, found);
    return found;
  }

  /** The decision for a URL whose origin prefix is `key`; `url` builds the full URL when a function rule asks. */
  function decide(key: string, url: () => URL): DestinationDecision {
    const cached = cache.get(key) ?? decideOrigin(key);
    if (functionRules.length === 0) return cached.decision;
    let parsed: URL | undefined;
    for (const rule of functionRules) {
      if (rule.index >= cached.index) break;
      parsed ??= url();
      let matched = false;
      try {
        matched = rule.match!(parsed) === true;
      } catch {
        matched = false;
      }
      if (matched) return rule.decision;
    }
    return cached.decision;
  }

  const policy: DestinationPolicy = function destinationPolicy(url: string | URL): DestinationDecision {
    try {
      const text = typeof url === 'string' ? url : url.href;
      return decide(originPrefix(text), () => (typeof url === 'string' ? new URL(url) : url));
    } catch {
      return publicDecision;
    }
  };
  // The outbound hooks know the origin apart from the path: they skip building the URL string.
  (policy as PolicyByOrigin)[DECIDE_BY_ORIGIN] = (origin: string, path: string): DestinationDecision => {
    try {
      return decide(origin, () => new URL(`${origin}${path}`));
    } catch {
      return publicDecision;
    }
  };
  return policy;
}

/**
 * The policy with the default settings.
 *
 * @example
 * ```ts
 * defaultDestinationPolicy('http://10.0.3.7:8080/').baggage; // 'all'
 * ```
 */
export const defaultDestinationPolicy: DestinationPolicy = createDestinationPolicy();
