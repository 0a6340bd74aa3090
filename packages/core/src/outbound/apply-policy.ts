/**
 * Applies a destination decision and the sensitive-data guard to what is about to leave: the
 * context to inject (span removed when trace headers are withheld, baggage filtered) or a
 * `baggage` header someone else already wrote. Every withheld or refused item is counted, and
 * each kind of withholding warns once with the rule that acted and how to allow it.
 */
import { propagation, trace, type Baggage, type Context } from '@opentelemetry/api';
import { baggageMembersOf, createBaggageFromMembers, rawBaggageOf } from '../baggage/wire-baggage.js';
import type { BaggageMember } from '../baggage/types.js';
import { countDiagnostic, warnOnce } from '../diagnostics/diagnostics.js';
import type { DestinationDecision } from '../policy/destination.js';
import type { SensitiveDataGuard } from '../policy/sensitive-data.js';
import { formatBaggage, hasControlCharacter, isBaggageKey, parseBaggage } from '../wire/baggage.js';
import { GRAMMAR_MAX_MEMBERS } from '../wire/baggage-limits.js';
import { deleteB3SamplingDecision, getB3SamplingDecision } from '../propagators/b3-sampling-decision.js';
import { INVALID_SPAN_ID, INVALID_TRACE_ID } from '../wire/hex.js';

/** What filtering one baggage for one decision gave; reused while the baggage is the same. */
interface FilterResult {
  readonly baggage: Baggage;
  readonly decision: DestinationDecision;
  readonly guard: SensitiveDataGuard;
  /** The baggage to send: the same object when nothing was dropped, `undefined` when nothing is left. */
  readonly kept: Baggage | undefined;
  readonly withheld: readonly string[];
  readonly refused: readonly (readonly [key: string, reason: string])[];
  readonly invalid: number;
}

// A request's baggage is usually one object for all its outbound calls: the last few results
// are kept (a small ring, not a WeakMap: most baggage objects live for one request, and weak
// entries for each would cost the garbage collector more than they save).
const RECENT_RESULTS = 8;
const recent: (FilterResult | undefined)[] = new Array<FilterResult | undefined>(RECENT_RESULTS);
let nextSlot = 0;

const NONE: readonly never[] = Object.freeze([]);

/** Keys shown in a warning; the count says how many more. */
const MAX_KEYS_IN_WARNING = 5;

function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, MAX_KEYS_IN_WARNING).map((key) => JSON.stringify(key)).join(', ');
  return keys.length > MAX_KEYS_IN_WARNING ? `${shown} and ${keys.length - MAX_KEYS_IN_WARNING} more` : shown;
}

function isAllowed(decision: DestinationDecision, key: string): boolean {
  const allowance = decision.baggage;
  if (allowance === 'all') return true;
  if (allowance === 'none') return false;
  return allowance.includes(key);
}

/** Keys and property text reach the header as they are: anything but a token could inject. */
function isWritable(member: BaggageMember): boolean {
  if (!isBaggageKey(member.key)) return false;
  for (const property of member.properties) {
    if (hasControlCharacter(property.key) || hasControlCharacter(property.value)) return false;
  }
  return true;
}

interface MemberVerdicts {
  /** The members that may go; the input array itself when all may. */
  kept: readonly BaggageMember[];
  withheld: readonly string[];
  refused: readonly (readonly [string, string])[];
  invalid: number;
}

/** Splits members into those that may go and the reasons for the others. */
function filterMembers(members: readonly BaggageMember[], decision: DestinationDecision, guard: SensitiveDataGuard): MemberVerdicts {
  let kept: BaggageMember[] | undefined;
  let withheld: string[] | undefined;
  let refused: [string, string][] | undefined;
  let invalid = 0;
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    let dropped = true;
    if (!isAllowed(decision, member.key)) (withheld ??= []).push(member.key);
    else if (!isWritable(member)) invalid++;
    else {
      const reason = guard(member.key, member.value);
      if (reason !== undefined) (refused ??= []).push([member.key, reason]);
      else dropped = false;
    }
    // Arrays are made only once something is dropped: the usual verdict is "all may go".
    if (dropped && kept === undefined) kept = members.slice(0, i);
    else if (!dropped && kept !== undefined) kept.push(member);
  }
  return { kept: kept ?? members, withheld: withheld ?? NONE, refused: refused ?? NONE, invalid };
}

// Clients send the same baggage header again and again (a tenant, a tier): a header text that
// was clean for a decision and a guard is remembered, so the next request carrying it is neither
// decoded nor checked again. Only "everything may go" is remembered; anything else is worked out
// every time, so that it is counted every time.
const MAX_CLEAN_HEADERS = 256;
const cleanHeaders = new WeakMap<DestinationDecision, Map<string, SensitiveDataGuard>>();

/** The result of a baggage from which nothing is dropped (its `baggage` and `kept` are not used). */
const ALL_KEPT_MARK = Symbol('all kept');

function filterBaggage(baggage: Baggage, decision: DestinationDecision, guard: SensitiveDataGuard): FilterResult | typeof ALL_KEPT_MARK {
  const rawHeader = rawBaggageOf(baggage);
  const raw = rawHeader?.text;
  const clean = raw === undefined ? undefined : cleanHeaders.get(decision);
  if (clean !== undefined && clean.get(raw!) === guard) return ALL_KEPT_MARK;
  for (let i = 0; i < RECENT_RESULTS; i++) {
    const result = recent[i];
    if (result !== undefined && result.baggage === baggage && result.decision === decision && result.guard === guard) return result;
  }
  let members = baggageMembersOf(baggage);
  // The header the baggage was read from goes on as it came when nothing is dropped: with a
  // duplicate key it holds members the baggage does not (it keeps the last), each checked too.
  const duplicates = rawHeader !== undefined && rawHeader.members !== members.length;
  // Parsed within the header's own size and count: it was read within its propagator's limits.
  if (duplicates) members = parseBaggage(rawHeader.text, { maxMembers: Math.min(Math.max(rawHeader.members, 1), GRAMMAR_MAX_MEMBERS), maxBytes: Math.max(rawHeader.text.length, 1) }).members;
  const { kept, withheld, refused, invalid } = filterMembers(members, decision, guard);
  if (kept === members && raw !== undefined) {
    let texts = clean ?? cleanHeaders.get(decision);
    if (texts === undefined) cleanHeaders.set(decision, (texts = new Map()));
    if (texts.size >= MAX_CLEAN_HEADERS) texts.clear();
    texts.set(raw, guard);
  }
  let keptBaggage: Baggage | undefined = baggage;
  if (kept.length === 0) keptBaggage = undefined;
  else if (kept !== members && duplicates) keptBaggage = createBaggageFromMembers(kept);
  else if (kept !== members) {
    const keep = new Set(kept.map((member) => member.key));
    keptBaggage = baggage.removeEntries(...members.filter((member) => !keep.has(member.key)).map((member) => member.key));
  }
  const result: FilterResult = { baggage, decision, guard, kept: keptBaggage, withheld, refused, invalid };
  recent[nextSlot] = result;
  nextSlot = (nextSlot + 1) % RECENT_RESULTS;
  return result;
}

function report(decision: DestinationDecision, destination: string, withheld: readonly string[], refused: readonly (readonly [string, string])[], invalid: number): void {
  if (withheld.length > 0) {
    countDiagnostic('inject.baggage.withheld', withheld.length);
    warnOnce(
      `CTXPROP_BAGGAGE_WITHHELD:${decision.rule}`,
      `ctxprop: baggage ${listKeys(withheld)} withheld from ${destination} by the destination rule "${decision.rule}". ` +
        `To send it, add a rule before it, such as destinations: { rules: [{ hosts: [${JSON.stringify(destination)}], baggage: ${JSON.stringify(withheld.slice(0, MAX_KEYS_IN_WARNING))} }] }.`,
    );
  }
  for (const [key, reason] of refused) {
    countDiagnostic('baggage.sensitive.refused');
    warnOnce(
      `CTXPROP_BAGGAGE_SENSITIVE:${reason}`,
      `ctxprop: baggage ${JSON.stringify(key)} refused (${reason}): baggage travels in clear text to every service downstream. ` +
        'Keep credentials and personal data out of baggage; if this key is safe, list it in sensitiveData.allowKeys.',
    );
  }
  if (invalid > 0) countDiagnostic('inject.baggage.invalid_member', invalid);
}

/**
 * Returns `ctx` as it may be injected for one destination: without its span when the decision
 * withholds trace headers, with its baggage filtered by the decision and the guard. Counts
 * `inject.no_context` when there is neither a trace nor baggage (unless `countNoContext` is
 * false: the caller knows of a trace the context does not hold).
 *
 * @example
 * ```ts
 * const safe = contextForDestination(context.active(), policy(url), guard, 'api.example.com');
 * propagator.inject(safe, headers, headerSetter);
 * ```
 */
export function contextForDestination(
  ctx: Context,
  decision: DestinationDecision,
  guard: SensitiveDataGuard,
  destination: string,
  countNoContext = true,
): Context {
  const spanContext = trace.getSpanContext(ctx);
  // Not isSpanContextValid (two regular expressions per call): the propagator validates anyway.
  const hasTrace = spanContext !== undefined && spanContext.traceId !== INVALID_TRACE_ID && spanContext.spanId !== INVALID_SPAN_ID;
  const baggage = propagation.getBaggage(ctx);
  // A B3 sampling decision that came without ids travels as the trace does.
  const samplingOnly = !hasTrace && getB3SamplingDecision(ctx) !== undefined;
  if (!hasTrace && !samplingOnly && baggage === undefined) {
    if (countNoContext) countDiagnostic('inject.no_context');
    return ctx;
  }
  let result = ctx;
  if ((hasTrace || samplingOnly) && !decision.trace) {
    result = deleteB3SamplingDecision(trace.deleteSpan(result));
    reportTraceWithheld(decision, destination);
  }
  if (baggage !== undefined) {
    const filtered = filterBaggage(baggage, decision, guard);
    if (filtered !== ALL_KEPT_MARK) {
      const { kept, withheld, refused, invalid } = filtered;
      report(decision, destination, withheld, refused, invalid);
      if (kept === undefined) result = propagation.deleteBaggage(result);
      else if (kept !== baggage) result = propagation.setBaggage(result, kept);
    }
  }
  return result;
}

/**
 * Counts and warns (once per rule) that trace headers were withheld from a destination.
 *
 * @example
 * ```ts
 * reportTraceWithheld(decision, 'api.example.com');
 * ```
 */
export function reportTraceWithheld(decision: DestinationDecision, destination: string): void {
  countDiagnostic('inject.trace.withheld');
  warnOnce(
    `CTXPROP_TRACE_WITHHELD:${decision.rule}`,
    `ctxprop: trace headers withheld from ${destination} by the destination rule "${decision.rule}". ` +
      `To send them, add a rule before it, such as destinations: { rules: [{ hosts: [${JSON.stringify(destination)}], trace: true }] }.`,
  );
}

/**
 * Filters a `baggage` header value someone else wrote (the caller, or another instrumentation)
 * by the decision and the guard. Returns the value to send, or `undefined` to send none.
 *
 * @example
 * ```ts
 * filterBaggageHeader('tenant=acme,email=a%40b.example', decision, guard, 'orders.svc'); // 'tenant=acme'
 * ```
 */
export function filterBaggageHeader(
  header: string | readonly string[],
  decision: DestinationDecision,
  guard: SensitiveDataGuard,
  destination: string,
): string | undefined {
  const parsed = parseBaggage(header);
  const { kept, withheld, refused, invalid } = filterMembers(parsed.members, decision, guard);
  report(decision, destination, withheld, refused, invalid + parsed.invalid);
  if (kept === parsed.members && parsed.raw !== undefined) return parsed.raw;
  const text = formatBaggage(kept);
  return text === '' ? undefined : text;
}
