/**
 * Destination rules as the policy uses them: validated once at start-up (each bad option throws
 * `InvalidOptionError` naming it, `destinations.rules[1].hosts[0]`, and the fix), then matched
 * against an origin without parsing anything again.
 */
import { domainToASCII } from 'node:url';
import { InvalidOptionError, rejectUnknownOptions } from '../errors.js';
import { createCidrMatcher } from './cidr.js';
import type { DestinationDecision, DestinationGrant, DestinationRule } from './destination.js';

/** A rule ready for matching. */
export interface CompiledRule {
  readonly index: number;
  readonly decision: DestinationDecision;
  readonly exactHosts: ReadonlySet<string>;
  readonly suffixes: readonly string[];
  readonly origins: ReadonlySet<string>;
  readonly cidr: ((address: string) => boolean) | undefined;
  readonly match: ((url: URL) => boolean) | undefined;
}

const GRANT_KEYS: readonly string[] = ['trace', 'baggage'];
const RULE_KEYS: readonly string[] = ['name', 'hosts', 'origins', 'cidrs', 'match', ...GRANT_KEYS];

/**
 * Throws the `InvalidOptionError` of a destination option.
 *
 * @example
 * ```ts
 * invalid('destinations.cacheSize', 'a whole number from 1 to 1000000', 0);
 * ```
 */
export function invalid(option: string, expected: string, received: unknown, fix?: string): never {
  throw new InvalidOptionError(option, expected, received, fix);
}

function checkStringArray(value: unknown, option: string, expected: string): readonly string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.trim() === '')) {
    invalid(option, expected, value);
  }
  return value as readonly string[];
}

/**
 * Checks a grant (`{ trace, baggage }`) and fills in `fallback` for what it leaves out.
 *
 * @example
 * ```ts
 * compileGrant({ baggage: ['tenant'] }, 'destinations.public', { trace: true, baggage: 'none' });
 * // { trace: true, baggage: ['tenant'] }
 * ```
 */
export function compileGrant(grant: DestinationGrant | undefined, option: string, fallback: Required<DestinationGrant>): Required<DestinationGrant> {
  if (grant === undefined) return fallback;
  if (typeof grant !== 'object' || grant === null || Array.isArray(grant)) {
    invalid(option, 'an object such as { trace: true, baggage: "all" }', grant, `Example: { trace: false, baggage: 'none' }.`);
  }
  rejectUnknownOptions(grant, GRANT_KEYS, option);
  const trace = grant.trace ?? fallback.trace;
  if (typeof trace !== 'boolean') invalid(`${option}.trace`, 'true or false', grant.trace);
  const baggage = grant.baggage ?? fallback.baggage;
  if (baggage !== 'all' && baggage !== 'none') {
    checkStringArray(baggage, `${option}.baggage`, '"all", "none" or an array of baggage keys');
    return { trace, baggage: Object.freeze([...(baggage as readonly string[])]) };
  }
  return { trace, baggage };
}

const HOST_EXPECTED = 'a host name such as "api.example.com" or "*.example.com"';

/** True when `name` has no empty label at either end (`.example`, `example.`). */
function hasOuterLabels(name: string): boolean {
  return name.length > 0 && !name.startsWith('.') && !name.endsWith('.');
}

/** True when `text` holds a character outside ASCII. */
function hasNonAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return true;
  return false;
}

/**
 * A `hosts` pattern in the form URL gives host names: lower case, and an internationalised name
 * in its ASCII (punycode) form, `bücher.example` as `xn--bcher-kva.example`, by the same UTS #46
 * processing as the WHATWG URL host parser (https://url.spec.whatwg.org/#concept-domain-to-ascii).
 */
function compileHost(pattern: string, option: string): string {
  const host = pattern.trim().toLowerCase();
  const wildcard = host.startsWith('*.');
  const body = wildcard ? host.slice(2) : host;
  let ok = hasOuterLabels(body);
  for (let i = 0; ok && i < body.length; i++) {
    const code = body.charCodeAt(i);
    ok = (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 45 || code === 46 || code === 95 || code > 127;
  }
  if (!ok) {
    invalid(
      option,
      HOST_EXPECTED,
      pattern,
      'Give the host alone (no scheme, port or path); use "origins" for scheme and port, "cidrs" for addresses.',
    );
  }
  // Empty when URL could not spell the name as an http(s) host (`xn--zz.example`, `foo.123` on
  // some Node.js lines): an ASCII name is then kept as it is, as a scheme URL does not know
  // (`grpc://foo.123`) spells it; a Unicode one could match nothing.
  let ascii = domainToASCII(body);
  if (ascii === '' && !hasNonAscii(body)) ascii = body;
  if (!hasOuterLabels(ascii)) {
    invalid(
      option,
      HOST_EXPECTED,
      pattern,
      'It is not a name a URL can hold: check its labels.',
    );
  }
  return wildcard ? `*.${ascii}` : ascii;
}

function compileOrigin(text: string, option: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text.trim());
  } catch {
    url = undefined;
  }
  const pathOk = url !== undefined && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || !pathOk || url.username !== '') {
    invalid(option, 'an origin such as "https://api.partner.com" or "http://10.0.0.5:8080"', text, 'Give scheme, host and optional port, with no path.');
  }
  // URL spells an internationalised host in punycode, as the origins the policy decides on are.
  return url.origin;
}

/**
 * Checks one rule and prepares it for matching; `index` names it in decisions
 * (`destinations.rules[0]`) and, under `policyOption`, in errors (`outbound.destinations.rules[0]`).
 *
 * @example
 * ```ts
 * compileRule({ hosts: ['*.partner.example'], baggage: ['tenant'] }, 0).decision.rule; // 'destinations.rules[0]'
 * ```
 */
export function compileRule(rule: DestinationRule, index: number, policyOption = 'destinations'): CompiledRule {
  const option = `${policyOption}.rules[${index}]`;
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    invalid(option, 'an object such as { hosts: ["*.example.com"], baggage: "all" }', rule);
  }
  rejectUnknownOptions(rule, RULE_KEYS, option);
  if (rule.hosts === undefined && rule.origins === undefined && rule.cidrs === undefined && rule.match === undefined) {
    invalid(option, 'a rule with "hosts", "origins", "cidrs" or "match"', rule, 'Say which destinations the rule is about.');
  }
  if (rule.name !== undefined && (typeof rule.name !== 'string' || rule.name === '')) {
    invalid(`${option}.name`, 'a non-empty string', rule.name);
  }
  const grant = compileGrant({ trace: rule.trace, baggage: rule.baggage }, option, { trace: true, baggage: 'all' });
  const exactHosts = new Set<string>();
  const suffixes: string[] = [];
  if (rule.hosts !== undefined) {
    checkStringArray(rule.hosts, `${option}.hosts`, 'an array of host names such as ["api.example.com", "*.example.com"]');
    rule.hosts.forEach((pattern, i) => {
      const host = compileHost(pattern, `${option}.hosts[${i}]`);
      if (host.startsWith('*.')) suffixes.push(host.slice(1));
      else exactHosts.add(host);
    });
  }
  const origins = new Set<string>();
  if (rule.origins !== undefined) {
    checkStringArray(rule.origins, `${option}.origins`, 'an array of origins such as ["https://api.partner.com"]');
    rule.origins.forEach((text, i) => origins.add(compileOrigin(text, `${option}.origins[${i}]`)));
  }
  const cidr = rule.cidrs === undefined ? undefined : createCidrMatcher(rule.cidrs, `${option}.cidrs`);
  if (rule.match !== undefined && typeof rule.match !== 'function') {
    invalid(`${option}.match`, 'a function (url: URL) => boolean', rule.match);
  }
  return {
    index,
    decision: Object.freeze({ trace: grant.trace, baggage: grant.baggage, rule: rule.name ?? `destinations.rules[${index}]` }),
    exactHosts,
    suffixes,
    origins,
    cidr,
    match: rule.match,
  };
}

/**
 * True when a rule's hosts, origins or CIDRs match; its `match` function is asked separately,
 * per call.
 *
 * @example
 * ```ts
 * staticMatch(compileRule({ hosts: ['*.example.com'] }, 0), 'https://a.example.com', 'a.example.com'); // true
 * ```
 */
export function staticMatch(rule: CompiledRule, origin: string, hostname: string): boolean {
  if (rule.exactHosts.has(hostname) || rule.origins.has(origin)) return true;
  for (const suffix of rule.suffixes) {
    if (hostname.length > suffix.length && hostname.endsWith(suffix)) return true;
  }
  return rule.cidr !== undefined && rule.cidr(hostname);
}
